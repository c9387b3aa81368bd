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

"""Box-model metrics on the real NEURA smart-palletizer RGB-D scenes (test data: never train).

Data (``../shared/data/neura_smart_palletizer``): two scenes of the same pallet from the same
camera pose, ``small_box/`` (11 per-box masks) and ``medium_box/`` (2), each with
``color_image.png`` (640x480 RGB), ``raw_depth.png`` (uint16 mm), ``intrinsics.json`` and
``<scene>_mask_<i>.png`` (uint16, the box's depth in mm inside the instance, 0 elsewhere; ``> 0``
is the instance).

* **Box IoU** per image: the prediction's box pixels (class ids in ``box_classes``, by default 1
  ``box`` and 2 ``box_boundary``) against the union of all 13 masks of BOTH scenes (the scenes show
  the same pallet, so every carton top is box in both images; side faces are not in the masks).
* **Instance coverage** (needs :mod:`enet_ros.boxes`): the box estimator runs on the small-box
  scene with the predicted class ids, the depth, the intrinsics and the colour image; a
  ground-truth small box is covered when an estimated instance overlaps it with IoU >= 0.8,
  each instance covering at most one box (as ``test/test_boxes_real.py`` counts).

Run: ``python -m enet_ros.training.neura_eval --weights models/enet_boxes.pt
--data ../shared/data/neura_smart_palletizer`` (prints JSON; ``--overlays DIR`` writes images).
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

LOG = logging.getLogger(__name__)

SCENES = ('small_box', 'medium_box')
MATCH_IOU = 0.8


def _mask_files(folder: str, scene: str) -> List[str]:
    files = glob.glob(os.path.join(folder, f'{scene}_mask_*.png'))
    return sorted(files, key=lambda p: int(re.findall(r'(\d+)\.png$', p)[0]))


def instance_masks(root: str, scene: str) -> List[np.ndarray]:
    """Return the ground-truth instance masks of one scene, (H, W) bool each, in index order.

    Raises:
        FileNotFoundError: If the scene folder or its masks are missing.
    """
    import cv2
    folder = os.path.join(root, scene)
    files = _mask_files(folder, scene)
    if not files:
        raise FileNotFoundError(f'no {scene}_mask_*.png in {folder!r}')
    return [cv2.imread(p, cv2.IMREAD_UNCHANGED) > 0 for p in files]


def union_ground_truth(root: str, scenes: Sequence[str] = SCENES) -> np.ndarray:
    """Return the union of every per-box mask of all ``scenes``: (H, W) bool, True = box."""
    masks = [m for scene in scenes for m in instance_masks(root, scene)]
    return np.logical_or.reduce(masks)


def box_iou(class_ids: np.ndarray, ground_truth: np.ndarray,
            box_classes: Sequence[int] = (1, 2)) -> float:
    """Return the IoU of the predicted box pixels with the ground truth.

    Args:
        class_ids: (H, W) predicted class ids.
        ground_truth: (H, W) bool, True = box.
        box_classes: Class ids that count as box.

    Raises:
        ValueError: If the shapes differ.
    """
    if class_ids.shape != ground_truth.shape:
        raise ValueError(f'prediction {class_ids.shape} and ground truth {ground_truth.shape} '
                         'differ in size')
    pred = np.isin(class_ids, list(box_classes))
    union = np.logical_or(pred, ground_truth).sum()
    return float(np.logical_and(pred, ground_truth).sum() / union) if union else 1.0


def match_instances(labels: np.ndarray, ground_truth: Sequence[np.ndarray],
                    threshold: float = MATCH_IOU) -> Tuple[int, List[float]]:
    """Count ground-truth instances covered by a distinct predicted instance with IoU >= threshold.

    Args:
        labels: (H, W) int instance labels, 0 = none.
        ground_truth: (H, W) bool masks, one per ground-truth instance.
        threshold: Minimum IoU of a match.

    Returns:
        ``(covered, best_ious)``: the number of ground-truth instances matched (greedily, best IoU
        first, one predicted instance per ground-truth instance) and each one's best IoU.
    """
    ids = [int(i) for i in np.unique(labels) if i != 0]
    pairs, best = [], []
    for g, gt in enumerate(ground_truth):
        top = 0.0
        for i in ids:
            inst = labels == i
            inter = np.logical_and(inst, gt).sum()
            if not inter:
                continue
            iou = float(inter / np.logical_or(inst, gt).sum())
            top = max(top, iou)
            if iou >= threshold:
                pairs.append((iou, g, i))
        best.append(top)
    used_g, used_i = set(), set()
    for iou, g, i in sorted(pairs, reverse=True):
        if g not in used_g and i not in used_i:
            used_g.add(g)
            used_i.add(i)
    return len(used_g), best


def _read_scene(root: str, scene: str) -> Dict[str, Any]:
    import cv2
    folder = os.path.join(root, scene)
    color = cv2.imread(os.path.join(folder, 'color_image.png'), cv2.IMREAD_COLOR)
    if color is None:
        raise FileNotFoundError(f'{folder}/color_image.png is missing or unreadable')
    depth = cv2.imread(os.path.join(folder, 'raw_depth.png'), cv2.IMREAD_UNCHANGED)
    with open(os.path.join(folder, 'intrinsics.json'), encoding='utf-8') as f:
        intrinsics = json.load(f)
    return {'rgb': cv2.cvtColor(color, cv2.COLOR_BGR2RGB), 'depth': depth,
            'intrinsics': intrinsics}


def instance_coverage(class_ids: np.ndarray, scene: Dict[str, Any],
                      ground_truth: Sequence[np.ndarray]) -> Optional[Dict[str, Any]]:
    """Run the box estimator on predicted class ids and count the covered ground-truth boxes.

    Returns:
        ``{'covered', 'total', 'instances', 'best_ious'}``, or None when :mod:`enet_ros.boxes`
        is not importable.
    """
    try:
        from enet_ros.boxes import CameraModel, estimate_boxes
    except ImportError as exc:
        LOG.warning('instance coverage skipped: enet_ros.boxes does not import (%s)', exc)
        return None
    k = scene['intrinsics']
    camera = CameraModel.pinhole(k['fx'], k['fy'], k['cx'], k['cy'], k['width'], k['height'])
    result = estimate_boxes(class_ids, scene['depth'], camera, color=scene['rgb'])
    covered, best = match_instances(result.labels, ground_truth)
    return {'covered': covered, 'total': len(ground_truth), 'instances': len(result),
            'best_ious': [round(v, 4) for v in best], 'labels': result.labels}


def evaluate(segmenter, root: str, overlays: Optional[str] = None) -> Dict[str, Any]:
    """Measure box IoU on both scenes and instance coverage on the small-box scene.

    Args:
        segmenter: A :class:`enet_ros.inference.Segmenter` of a box model (classes 0 background,
            1 box, 2 box_boundary).
        root: The ``neura_smart_palletizer`` folder.
        overlays: Folder to write ``<scene>_overlay.png`` (prediction vs ground truth) into.

    Returns:
        ``{'box_iou': {scene: IoU}, 'instances': {...} or None, 'settings': {...}}``.
    """
    import cv2
    gt_union = union_ground_truth(root)
    report: Dict[str, Any] = {'box_iou': {}, 'instances': None,
                              'settings': {'resize_policy': segmenter.resize_policy,
                                           'resolution': segmenter.resolution}}
    for scene in SCENES:
        data = _read_scene(root, scene)
        ids = segmenter(data['rgb']).class_ids
        report['box_iou'][scene] = round(box_iou(ids, gt_union), 4)
        inst = None
        if scene == 'small_box':
            inst = instance_coverage(ids, data, instance_masks(root, scene))
            if inst is not None:
                report['instances'] = {k: v for k, v in inst.items() if k != 'labels'}
        if overlays:
            os.makedirs(overlays, exist_ok=True)
            cv2.imwrite(os.path.join(overlays, f'{scene}_overlay.png'),
                        _overlay(data['rgb'], ids, gt_union, None if inst is None
                                 else inst['labels']))
    return report


def _overlay(rgb: np.ndarray, ids: np.ndarray, gt: np.ndarray,
             labels: Optional[np.ndarray]) -> np.ndarray:
    """Return a BGR picture: image | errors (TP green, FP red, FN blue, class 2) | instances."""
    import cv2
    pred = np.isin(ids, (1, 2))
    err = (rgb * 0.4).astype(np.uint8)
    err[pred & gt] = (0, 200, 0)
    err[pred & ~gt] = (255, 0, 0)
    err[~pred & gt] = (0, 80, 255)
    err[ids == 2] = (255, 230, 0)
    panels = [rgb, err]
    if labels is not None:
        rng = np.random.default_rng(0)
        colors = rng.integers(60, 255, size=(int(labels.max()) + 1, 3)).astype(np.uint8)
        colors[0] = 0
        inst = (rgb * 0.3).astype(np.uint8)
        inst[labels > 0] = colors[labels[labels > 0]]
        panels.append(inst)
    return cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the NEURA metrics of a checkpoint as JSON; return 0."""
    parser = argparse.ArgumentParser(prog='python -m enet_ros.training.neura_eval',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True, help='enet_ros box checkpoint')
    parser.add_argument('--data', required=True, help='the neura_smart_palletizer folder')
    parser.add_argument('--resize-policy', choices=['stretch', 'letterbox', 'native'],
                        help="default: the checkpoint's")
    parser.add_argument('--resolution', help="WxH network resolution (default: the checkpoint's)")
    parser.add_argument('--overlays', metavar='DIR', help='write overlay images here')
    args = parser.parse_args(argv)
    from enet_ros.cli.common import parse_size
    from enet_ros.inference import Segmenter
    logging.basicConfig(level=logging.WARNING)
    segmenter = Segmenter(args.weights, resize_policy=args.resize_policy,
                          resolution=parse_size(args.resolution) if args.resolution else None)
    report = evaluate(segmenter, args.data, args.overlays)
    report['weights'] = os.path.abspath(args.weights)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
