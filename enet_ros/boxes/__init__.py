# Copyright 2026 enet_ros contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Box (carton) pose estimation from a segmentation mask and a depth image -- no ROS imports.

Box poses
=========

``estimate_boxes(mask, depth, camera, color=None, config=None)`` turns the output of the box
segmentation model (class ids: 0 background, 1 box, 2 box_boundary; or a bool mask), an aligned
depth image and the camera model into one ``BoxEstimate`` per carton, plus the instance label
image (``result.labels``, (H, W) int32, 0 = no box) for drawing::

    from enet_ros.boxes import BoxEstimatorConfig, CameraModel, estimate_boxes

    camera = CameraModel(K=k, D=d, width=640, height=480, distortion_model='plumb_bob')
    result = estimate_boxes(class_ids, depth_u16_mm, camera, color=rgb)
    for box in result:
        print(box.instance_id, box.position_m, box.quaternion_xyzw, box.size_m, box.score)

Inputs
------
* ``depth``: uint16 millimetres (``16UC1``, 0 = no data) or float32 metres (``32FC1``, NaN or 0
  = no data), read from the dtype, never guessed; z along the optical axis, registered to the mask.
  Float depth with a median above 100 (metres) is almost surely millimetres converted to float: it
  is still read as metres, with a ``UserWarning`` naming the mm-vs-m mistake.
* ``camera``: ``CameraModel`` (K, D, width, height, ``plumb_bob`` or ``rational_polynomial``;
  ``equidistant`` is rejected). Pixel coordinates are undistorted with ``cv2.undistortPoints``
  (table cached per camera). A camera_info for another resolution with the same aspect ratio is
  scaled (``CameraModel.scaled_to``); a different aspect ratio raises ``ValueError``.
* ``color`` (optional): the registered colour image, for the slits between touching cartons.
* Without depth: 2D oriented rectangles only (``corners_px``, ``score``), or a metric pose on a
  known plane of the top faces (``BoxEstimatorConfig.working_plane``).

Frames, units and the pose convention
-------------------------------------
All 3D values are in the camera optical frame (REP 103: x right, y down, z forward), metres.

* ``position_m``: centre of the top face (the face the camera sees).
* ``quaternion_xyzw`` (ROS order): rotation of the box frame whose z axis is the top-face
  normal pointing out of the box towards the camera (``normal``; for a camera looking down it
  points up, with a negative z component in the optical frame), x axis along the long edge,
  y = z x x.
* 180-degree ambiguity: x is chosen with ``x_cam + y_cam >= 0`` (it points right and/or down in
  the image); the sign flips only for edges at 45 degrees to the image axes. A square top has a
  further 90-degree ambiguity.
* ``size_m``: (length, width, height), length >= width, of the visible top face (a partly
  occluded carton measures its visible part); height is the distance from the top face to the
  support plane (``config.support_plane``, or found in a band around the boxes), NaN without one.
* ``corners_px``: the top face's corners in the image, order (-x,-y), (+x,-y), (+x,+y), (-x,+y).
* ``score`` in [0, 1]: fraction of the fitted rectangle covered by the top face times the
  fraction of valid-depth pixels on the fitted plane.

Touching cartons
================
Cartons packed edge to edge at the same height are one blob in a semantic mask. Instances are
cut apart by (1) the ``box_boundary`` class when the model predicts it, (2) depth
discontinuities (stacked levels, gaps, side faces) and (3) thin dark lines in the colour image
(the slit between two cartons); the remaining box pixels are connected components ("seeds") that
grow back over the cut pixels. An instance that is not rectangular and whose coplanar neighbour
completes it to a rectangle is merged back (a cable or crease across one carton). Limits: two
tops at the same height with no visible slit, no depth step and no boundary class stay one
instance; a straight dark line across a carton (tape edge, printing) splits it if both parts are
rectangular; a colour image that is not registered to the depth cuts in the wrong places (pass
``color=None`` then). On the NEURA smart-palletizer scene (11 small cartons, union of the masks as
one semantic mask) depth alone separates 4 of the 11 (the front row stands at one height); with
the colour image all 11 come out separately (``test/test_boxes_real.py``).

Speed: everything runs on a grid of every ``fit_stride``-th pixel (2 by default) inside the boxes'
bounding rectangle (aligned to the stride, so that it is a window of the camera's cached strided
ray table), vectorised over boxes with NumPy and OpenCV: the points of all boxes sit in one padded
(boxes x points) layout built by one sort, so RANSAC, the plane refits (one batched matrix product
for all moments), the inlier tests and the rectangle quantiles are a few whole-array operations,
whatever the number of boxes. ``BoxEstimatorConfig(label_image=False)`` skips the full-resolution
label image when only the poses are wanted (the ROS node). ``bench/bench_boxes.py`` prints the
figures. The first call per camera model computes and caches the pixel-ray table.
``BoxEstimate.pixel_count`` is counted on the grid (labelled grid points times ``fit_stride**2``).
"""

from enet_ros.boxes.camera import CameraModel
from enet_ros.boxes.estimator import (BoxEstimate, BoxEstimationResult, BoxEstimatorConfig,
                                      depth_to_metres, estimate_boxes, semantic_to_masks)
from enet_ros.boxes.geometry import matrix_to_quaternion, quaternion_to_matrix

__all__ = [
    'BoxEstimate',
    'BoxEstimationResult',
    'BoxEstimatorConfig',
    'CameraModel',
    'depth_to_metres',
    'estimate_boxes',
    'matrix_to_quaternion',
    'quaternion_to_matrix',
    'semantic_to_masks',
]
