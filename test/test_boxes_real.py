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

"""Box poses on the real NEURA smart-palletizer RGB-D scenes (../shared/data, read in place).

The estimator gets the UNION of a scene's per-box masks as one semantic mask (no instance
information), the 16-bit millimetre depth, the intrinsics and the colour image; the per-box masks
(``mask > 0``) are only the ground truth of the instances.
"""

import json
from pathlib import Path

import cv2
from enet_ros.boxes import BoxEstimatorConfig, CameraModel, estimate_boxes
import numpy as np
import pytest

pytestmark = pytest.mark.data

SMALL = (0.255, 0.155)    # small_box.urdf, metres
MEDIUM = (0.340, 0.250)   # medium_box.urdf, metres


def _load(shared_data: Path, scene: str):
    folder = shared_data / 'neura_smart_palletizer' / scene
    if not folder.is_dir():
        pytest.skip(f'{folder} not found')
    intr = json.loads((folder / 'intrinsics.json').read_text())
    camera = CameraModel.pinhole(intr['fx'], intr['fy'], intr['cx'], intr['cy'], intr['width'],
                                 intr['height'])
    color = cv2.cvtColor(cv2.imread(str(folder / 'color_image.png')), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(folder / 'raw_depth.png'), cv2.IMREAD_UNCHANGED)
    masks = sorted(folder.glob(f'{scene}_mask_*.png'), key=lambda p: int(p.stem.split('_')[-1]))
    gts = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) > 0 for p in masks]
    assert depth.dtype == np.uint16 and color.shape == (480, 640, 3)
    return camera, color, depth, gts


def _best_matches(result, gts):
    """(iou, box) of the best-overlapping estimated instance for each ground-truth mask."""
    out = []
    for gt in gts:
        best = (0.0, None)
        for box in result:
            inst = result.labels == box.instance_id
            iou = float((inst & gt).sum() / (inst | gt).sum())
            if iou > best[0]:
                best = (iou, box)
        out.append(best)
    return out


@pytest.fixture(scope='module')
def small_scene(shared_data):
    camera, color, depth, gts = _load(shared_data, 'small_box')
    union = np.logical_or.reduce(gts)
    result = estimate_boxes(union, depth, camera, color=color, config=BoxEstimatorConfig())
    return result, gts


def test_small_boxes_come_out_as_separate_instances(small_scene):
    result, gts = small_scene
    assert len(gts) == 11
    matches = _best_matches(result, gts)
    good = [(iou, box) for iou, box in matches if iou >= 0.8]
    # Each good match is a distinct instance (no instance covers two boxes at IoU >= 0.8).
    assert len({box.instance_id for _, box in good}) == len(good)
    print(f'\nsmall_box: {len(result)} instances, {len(good)}/11 boxes with IoU >= 0.8, IoUs '
          f'{[round(iou, 3) for iou, _ in matches]}')
    assert len(good) >= 10, [round(iou, 3) for iou, _ in matches]


def test_small_box_sizes_and_normals(small_scene):
    result, gts = small_scene
    good = [box for iou, box in _best_matches(result, gts) if iou >= 0.8]
    assert all(box.has_pose for box in good)
    length = np.median([box.size_m[0] for box in good])
    width = np.median([box.size_m[1] for box in good])
    assert abs(length - SMALL[0]) <= 0.015, length
    assert abs(width - SMALL[1]) <= 0.015, width
    normals = np.array([box.normal for box in good])
    median = np.median(normals, axis=0)
    median /= np.linalg.norm(median)
    angles = np.degrees(np.arccos(np.clip(normals @ median, -1.0, 1.0)))
    print(f'\nsmall_box: median length {length:.4f} m, width {width:.4f} m; normal angles to '
          f'their median (deg) {np.round(angles, 1).tolist()}')
    assert (angles <= 5.0).sum() >= 9, np.round(angles, 1)
    # The camera looks down: every top normal points back at it.
    assert np.all(normals[:, 2] < -0.9)


def test_medium_box_fully_visible(shared_data):
    camera, color, depth, gts = _load(shared_data, 'medium_box')
    union = np.logical_or.reduce(gts)
    result = estimate_boxes(union, depth, camera, color=color)
    # medium_box_mask_0 is the fully visible box (the other one is mostly hidden).
    iou, box = _best_matches(result, gts)[0]
    print(f'\nmedium_box 0 (with colour): IoU {iou:.3f}, length {box.size_m[0]:.4f} m, width '
          f'{box.size_m[1]:.4f} m')
    assert iou >= 0.8
    assert abs(box.size_m[0] - MEDIUM[0]) <= 0.02, box.size_m
    assert abs(box.size_m[1] - MEDIUM[1]) <= 0.02, box.size_m
    # Without the colour image (depth discontinuities only) it is found as well.
    result = estimate_boxes(union, depth, camera)
    iou, box = _best_matches(result, gts)[0]
    print(f'medium_box 0 (depth only): IoU {iou:.3f}, length {box.size_m[0]:.4f} m, width '
          f'{box.size_m[1]:.4f} m')
    assert iou >= 0.8
    assert abs(box.size_m[0] - MEDIUM[0]) <= 0.02 and abs(box.size_m[1] - MEDIUM[1]) <= 0.02
