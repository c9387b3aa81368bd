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

"""Pictures of replayed frames: segmentation overlay with box outlines and poses, contact sheets.

Pure (NumPy and OpenCV, no ROS). The boxes are drawn from what the node publishes (pose and size,
camera optical frame), projected with the frame's camera model, so the picture shows what a
planner receives rather than the estimator's internal state:

* the top face: the rectangle ``[-l/2, l/2] x [-w/2, w/2]`` in the box frame (x long edge,
  z the top-face normal, origin the top-face centre; see :mod:`enet_ros.boxes`), projected with
  ``CameraModel.project`` (distortion included);
* the box axes from the top-face centre (x red, y green, z blue; 5 cm, or a third of the width);
* a label: index and size in millimetres.

A box without a size (the node published only its pose) gets the axes and the index.
"""

from __future__ import annotations

import math
import os
from typing import Optional, Sequence, Tuple

import cv2
from enet_ros.boxes.camera import CameraModel
from enet_ros.replay_report import Box3D
from enet_ros.viz import Colorizer
import numpy as np

OUTLINE_COLOR = (255, 255, 0)
AXIS_COLORS = ((255, 40, 40), (40, 220, 40), (60, 120, 255))
TEXT_COLOR = (255, 255, 255)


def top_face_corners_m(box: Box3D) -> Optional[np.ndarray]:
    """Return the top face's corners in the camera frame, or None without a length and width.

    Args:
        box: The box (pose and size).

    Returns:
        (4, 3) float64 corners, metres, camera optical frame, order (-x, -y), (+x, -y),
        (+x, +y), (-x, +y) of the box frame.
    """
    length, width = box.size_m[:2]
    if not (np.isfinite(length) and np.isfinite(width) and length > 0 and width > 0):
        return None
    rot = box.rotation
    local = np.array([[sx * length / 2, sy * width / 2, 0.0]
                      for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    return box.position_m + local @ rot.T


def _project(camera: CameraModel, points: np.ndarray) -> Optional[np.ndarray]:
    """Project (N, 3) camera-frame points; None when any lies behind the camera."""
    if points.size == 0 or not np.all(np.isfinite(points)) or np.any(points[:, 2] <= 1e-6):
        return None
    return camera.project(points)


def draw_boxes(image: np.ndarray, boxes: Sequence[Box3D], camera: Optional[CameraModel],
               thickness: int = 2) -> np.ndarray:
    """Draw box outlines, axes and labels into an image (in place).

    Args:
        image: (H, W, 3) uint8 RGB, contiguous; drawn into.
        boxes: The boxes, camera optical frame.
        camera: The image's camera model (scaled to the image size here), or None (then
            nothing is drawn: poses cannot be projected without intrinsics).
        thickness: Line width, pixels.

    Returns:
        ``image``.
    """
    if camera is None or not boxes:
        return image
    h, w = image.shape[:2]
    if camera.size != (w, h):
        camera = camera.scaled_to(w, h)
    scale = max(1.0, w / 640.0)
    for index, box in enumerate(boxes):
        if not np.all(np.isfinite(box.position_m)):
            continue
        corners = top_face_corners_m(box)
        rot = box.rotation
        axis_len = 0.05
        if corners is not None:
            axis_len = min(axis_len, float(box.size_m[1]) / 3.0)
            px = _project(camera, corners)
            if px is not None:
                cv2.polylines(image, [np.round(px).astype(np.int32).reshape(-1, 1, 2)], True,
                              OUTLINE_COLOR, thickness, cv2.LINE_AA)
        ends = np.vstack([box.position_m, box.position_m + axis_len * rot.T])
        px = _project(camera, ends)
        if px is None:
            continue
        origin = tuple(int(round(v)) for v in px[0])
        for k in range(3):
            cv2.line(image, origin, tuple(int(round(v)) for v in px[k + 1]), AXIS_COLORS[k],
                     thickness, cv2.LINE_AA)
        label = f'{box.box_id if box.box_id >= 0 else index}'
        if corners is not None:
            label += f' {box.size_m[0] * 1000:.0f}x{box.size_m[1] * 1000:.0f}'
        _text(image, label, (origin[0] + 4, origin[1] - 4), 0.4 * scale)
    return image


def _text(image: np.ndarray, text: str, org: Tuple[int, int], size: float) -> None:
    """Write white text with a dark outline (readable on any background)."""
    thick = max(1, int(round(size * 2)))
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thick + 2,
                cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, TEXT_COLOR, thick,
                cv2.LINE_AA)


def draw_frame(rgb: np.ndarray, class_ids: Optional[np.ndarray],
               colors: Sequence[Tuple[int, int, int]], boxes: Sequence[Box3D] = (),
               camera: Optional[CameraModel] = None, alpha: float = 0.5,
               caption: Optional[str] = None) -> np.ndarray:
    """Return the overlay picture of one frame.

    Args:
        rgb: (H, W, 3) uint8 RGB input image.
        class_ids: (H, W) uint8/uint16 class ids from ``~/mask`` (same size), or None.
        colors: One ``(r, g, b)`` per class id, 0..255.
        boxes: The frame's boxes (see :func:`draw_boxes`).
        camera: The camera model of ``rgb``, or None.
        alpha: Weight of the class colours, [0, 1].
        caption: Text written at the top left, or None.

    Returns:
        (H, W, 3) uint8 RGB, a new array.

    Raises:
        ValueError: If the mask size differs from the image size.
    """
    image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    if class_ids is not None:
        if class_ids.shape[:2] != image.shape[:2]:
            raise ValueError(f'mask {class_ids.shape[:2]} and image {image.shape[:2]} differ in '
                             'size')
        image = Colorizer(colors).overlay(image, class_ids, alpha)   # a new array
    else:
        image = image.copy()   # drawn on below: never into the caller's image
    draw_boxes(image, boxes, camera)
    if caption:
        _text(image, caption, (6, 18), 0.5 * max(1.0, image.shape[1] / 640.0))
    return image


def contact_sheet(images: Sequence[np.ndarray], captions: Optional[Sequence[str]] = None,
                  columns: Optional[int] = None, thumb_width: int = 320,
                  gap: int = 4) -> np.ndarray:
    """Arrange images as a grid of thumbnails.

    Args:
        images: (H, W, 3) uint8 RGB images (sizes may differ; each is scaled to
            ``thumb_width`` wide, keeping its aspect ratio).
        captions: One text per image (written on the thumbnail), or None.
        columns: Thumbnails per row; None: about square (``ceil(sqrt(n))``).
        thumb_width: Thumbnail width, pixels (>= 16).
        gap: Pixels between thumbnails (dark grey).

    Returns:
        (H', W', 3) uint8 RGB sheet.

    Raises:
        ValueError: For no images or a bad ``thumb_width`` / ``columns``.
    """
    if not images:
        raise ValueError('contact_sheet needs at least one image')
    if thumb_width < 16:
        raise ValueError(f'thumb_width must be >= 16 pixels, got {thumb_width}')
    n = len(images)
    columns = columns or int(math.ceil(math.sqrt(n)))
    if columns < 1:
        raise ValueError(f'columns must be >= 1, got {columns}')
    thumbs = []
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        th = max(1, int(round(h * thumb_width / w)))
        thumb = cv2.resize(np.ascontiguousarray(img[..., :3]), (thumb_width, th),
                           interpolation=cv2.INTER_AREA)
        if captions is not None and i < len(captions) and captions[i]:
            _text(thumb, captions[i], (4, 14), 0.4)
        thumbs.append(thumb)
    cell_h = max(t.shape[0] for t in thumbs)
    rows = int(math.ceil(n / columns))
    sheet = np.full((rows * cell_h + (rows + 1) * gap, columns * thumb_width + (columns + 1) * gap,
                     3), 40, np.uint8)
    for i, thumb in enumerate(thumbs):
        r, c = divmod(i, columns)
        y = gap + r * (cell_h + gap)
        x = gap + c * (thumb_width + gap)
        sheet[y:y + thumb.shape[0], x:x + thumb_width] = thumb
    return sheet


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG (its folder is created).

    Args:
        path: Output file.
        rgb: (H, W, 3) uint8 RGB.

    Raises:
        OSError: If OpenCV cannot write the file.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {path}')
