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

"""An ``enet`` node whose "model" returns the ground truth, with box outputs (test helper).

Run as ``python replay_oracle_node.py DATASET --ros-args ...`` where DATASET is an
``enet-ros synth --out`` folder (``rgb/NAME.png``, ``mask/NAME.png``). The segmenter looks the
incoming image up by its bytes and returns that scene's ground-truth class ids (confidence 1), so
``enet-ros replay --attach`` against it must report an mIoU of exactly 1 and box poses as good as
the box estimator makes them from perfect masks.

Box outputs: where :class:`~enet_ros.ros.node.EnetNode` does not publish ``~/boxes`` itself,
this node runs :func:`enet_ros.boxes.estimate_boxes` on the mask, the depth and the camera_info
and publishes ``~/boxes`` (geometry_msgs/PoseArray: top-face centre and box frame) and
``~/markers`` (visualization_msgs/MarkerArray: one CUBE per box around the whole box, scale =
length, width, height); where the node already publishes them, its own outputs are used.
"""

import glob
import hashlib
import os
import sys
from types import SimpleNamespace

import cv2
from enet_ros.classes import BOXES
from enet_ros.inference.segmenter import Segmentation
from enet_ros.ros import dds
import numpy as np


class OracleSegmenter:
    """Returns the ground-truth mask of a known image (by its bytes); background otherwise."""

    def __init__(self, dataset):
        """Index ``dataset/rgb/*.png`` by content hash."""
        self.meta = SimpleNamespace(classes=BOXES)
        self.masks = {}
        for path in sorted(glob.glob(os.path.join(dataset, 'rgb', '*.png'))):
            rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            mask = cv2.imread(os.path.join(dataset, 'mask', os.path.basename(path)),
                              cv2.IMREAD_UNCHANGED)
            self.masks[self.key(rgb)] = mask
        if not self.masks:
            raise FileNotFoundError(f'no rgb/*.png in {dataset}')
        self.unknown = 0

    @staticmethod
    def key(rgb):
        """Return the content hash of an (H, W, 3) uint8 image."""
        return hashlib.sha1(np.ascontiguousarray(rgb).tobytes()).hexdigest()

    def __call__(self, rgb):
        """Return the ground truth of ``rgb`` (ids 255 become background)."""
        mask = self.masks.get(self.key(rgb))
        if mask is None:
            self.unknown += 1
            mask = np.zeros(rgb.shape[:2], np.uint8)
        ids = np.where(mask == 255, 0, mask).astype(np.uint8)
        return Segmentation(ids, np.ones(ids.shape, np.float32), None, {'model': 0.0})


def make_node_class():
    """Return the EnetNode subclass (imports rclpy; call after the DDS profile is applied)."""
    from enet_ros.boxes import CameraModel, estimate_boxes
    from enet_ros.ros.node import EnetNode
    from geometry_msgs.msg import Pose, PoseArray
    from visualization_msgs.msg import Marker, MarkerArray

    class OracleBoxNode(EnetNode):
        """EnetNode plus ~/boxes and ~/markers where the node has none of its own."""

        def _setup(self, segmenter, start_worker):
            self._own_boxes = None
            super()._setup(segmenter, start_worker)
            if self.count_publishers(self.resolve_topic_name('~/boxes')) == 0:
                self._own_boxes = (self.create_publisher(PoseArray, '~/boxes', 10),
                                   self.create_publisher(MarkerArray, '~/markers', 10))

        def _publish_boxes(self, header, result, depth, camera_info):
            if getattr(self, '_own_boxes', None) is None:
                return super()._publish_boxes(header, result, depth, camera_info)
            boxes_pub, markers_pub = self._own_boxes
            poses = PoseArray(header=header)
            markers = MarkerArray()
            if depth is not None and camera_info is not None:
                camera = CameraModel(K=np.asarray(camera_info.k).reshape(3, 3),
                                     D=np.asarray(camera_info.d), width=camera_info.width,
                                     height=camera_info.height,
                                     distortion_model=camera_info.distortion_model)
                for i, box in enumerate(estimate_boxes(result.class_ids, depth, camera)):
                    if not box.has_pose:
                        continue
                    pose = Pose()
                    pose.position.x, pose.position.y, pose.position.z = map(
                        float, box.position_m)
                    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                     pose.orientation.w) = map(float, box.quaternion_xyzw)
                    poses.poses.append(pose)
                    height = float(box.size_m[2]) if np.isfinite(box.size_m[2]) else 0.01
                    cube = Marker(header=header, ns='boxes', id=i, type=Marker.CUBE,
                                  action=Marker.ADD)
                    centre = box.position_m - box.rotation_matrix[:, 2] * height / 2
                    cube.pose.position.x, cube.pose.position.y, cube.pose.position.z = map(
                        float, centre)
                    cube.pose.orientation = pose.orientation
                    cube.scale.x, cube.scale.y, cube.scale.z = (
                        float(box.size_m[0]), float(box.size_m[1]), height)
                    cube.color.r, cube.color.a = 1.0, 0.5
                    markers.markers.append(cube)
            markers_pub.publish(markers)
            boxes_pub.publish(poses)

    return OracleBoxNode


def main(argv):
    """Run the oracle node until SIGINT."""
    dds.apply_large_image_profile()
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    dataset, ros_args = argv[1], argv[2:]
    segmenter = OracleSegmenter(dataset)
    rclpy.init(args=[argv[0]] + ros_args)
    node = make_node_class()(segmenter=segmenter)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
