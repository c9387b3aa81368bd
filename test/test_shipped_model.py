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

"""The shipped box model ``models/enet_boxes.pt``: format, provenance and real-data accuracy.

The real-data tests read ../shared/data/neura_smart_palletizer in place (a test set the model never
saw: it is trained on ``enet-ros synth`` scenes only).
"""

from enet_ros.classes import BOXES
from enet_ros.inference import Segmenter
from enet_ros.model.checkpoint import load_model, read_checkpoint
from enet_ros.training import neura_eval
import numpy as np
import pytest
import torch

MAX_BYTES = 2 * 1024 * 1024
MIN_BOX_IOU = 0.85
MIN_SMALL_BOXES = 10
FLOOR_BOX_IOU = 0.67
FLOOR_SMALL_BOXES = 4


@pytest.fixture(scope='module')
def weights(repo_root):
    """Return the path of the shipped checkpoint."""
    path = repo_root / 'models' / 'enet_boxes.pt'
    assert path.is_file(), 'models/enet_boxes.pt is missing (see models/MODEL_CARD.md)'
    return path


def test_size_classes_and_preprocessing(weights):
    """At most 2 MB; paper ENet with the box classes; the resolution and policy of training."""
    assert weights.stat().st_size <= MAX_BYTES
    model = load_model(weights)
    meta = model.meta
    assert meta.arch.variant == 'paper' and meta.arch.num_classes == 3
    assert meta.classes.names == BOXES.names
    assert meta.preprocessing.resolution is not None
    assert meta.preprocessing.resize_policy in ('stretch', 'letterbox', 'native')
    out = model(torch.zeros(1, 3, 48, 64))
    assert out.shape == (1, 3, 48, 64) and torch.isfinite(out).all()


def test_provenance_records_how_it_was_trained(weights):
    """Command, config, seed, synthetic data generator version, hardware, time and metrics."""
    _, meta = read_checkpoint(weights)
    prov = meta.provenance
    assert prov['source'] == 'enet-ros train'
    assert prov['command'].startswith('enet-ros train')
    assert isinstance(prov['seed'], int) and prov['config']['seed'] == prov['seed']
    assert prov['synth_generator'].startswith('enet_ros.synth ')
    assert prov['data']['train']['generator'] == 'enet_ros.synth'
    assert prov['hardware'] and prov['wall_time_s'] > 0 and prov['epoch'] >= 1
    assert 0.0 < prov['metrics']['val_miou'] <= 1.0


def test_metric_helpers_on_hand_made_masks():
    """Box IoU counts classes 1 and 2 as box; instance matching is one-to-one at IoU >= 0.8."""
    gt = np.zeros((10, 10), bool)
    gt[2:6, 2:6] = True                      # 16 px
    ids = np.zeros((10, 10), np.uint8)
    ids[2:6, 2:5] = 1
    ids[2:6, 5:7] = 2                        # 8 px of class 2, 4 of them outside the box
    assert neura_eval.box_iou(ids, gt) == pytest.approx(16 / 20)
    a, b = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    a[0:4, 0:4] = True
    b[5:9, 5:9] = True
    labels = np.zeros((10, 10), np.int32)
    labels[0:4, 0:4] = 3                     # exact match of a
    labels[5:9, 5:8] = 7                     # 12 of b's 16 px: IoU 0.75 < 0.8
    covered, best = neura_eval.match_instances(labels, [a, b])
    assert covered == 1 and best == [1.0, 0.75]
    labels[5:9, 5:9] = 3                     # one instance over both boxes: neither matches twice
    covered, _ = neura_eval.match_instances(labels, [a, b])
    assert covered == 0


@pytest.fixture(scope='module')
def neura_metrics(weights, shared_data):
    """Return ``{'iou': {scene: box IoU}, 'covered': int, 'best_ious': [...]}`` on NEURA."""
    root = shared_data / 'neura_smart_palletizer'
    if not root.is_dir():
        pytest.skip(f'{root} not found')
    segmenter = Segmenter(str(weights), warmup=False)
    gt = neura_eval.union_ground_truth(str(root))
    assert gt.shape == (480, 640) and 0.2 < gt.mean() < 0.35
    ious, small_ids = {}, None
    for scene in neura_eval.SCENES:
        rgb = neura_eval._read_scene(str(root), scene)['rgb']
        ids = segmenter(rgb).class_ids
        assert set(np.unique(ids)) <= {0, 1, 2}
        ious[scene] = neura_eval.box_iou(ids, gt)
        if scene == 'small_box':
            small_ids = ids
    gts = neura_eval.instance_masks(str(root), 'small_box')
    assert len(gts) == 11
    small = neura_eval._read_scene(str(root), 'small_box')
    result = neura_eval.instance_coverage(small_ids, small, gts)
    assert result is not None
    return {'iou': ious, 'covered': result['covered'], 'best_ious': result['best_ious']}


@pytest.mark.data
def test_neura_figures_do_not_regress(neura_metrics):
    """Regression floor just under what the shipped model measures (models/MODEL_CARD.md).

    Measured: box IoU 0.721 (small_box) / 0.691 (medium_box), 5 of 11 small cartons covered.
    A retrained model must not fall below these (the issue's targets are higher, see below).
    """
    assert min(neura_metrics['iou'].values()) >= FLOOR_BOX_IOU, neura_metrics
    assert neura_metrics['covered'] >= FLOOR_SMALL_BOXES, neura_metrics


@pytest.mark.data
@pytest.mark.xfail(strict=True, reason='issue #6 targets not reached by the shipped model '
                   '(box IoU 0.721 / 0.691 < 0.85, 5 of 11 cartons < 10; see '
                   'models/MODEL_CARD.md): an XPASS fails and asks to make this a plain test')
def test_issue_targets_box_iou_and_small_cartons(neura_metrics):
    """Issue #6: box IoU >= 0.85 on each real image and >= 10 of 11 small cartons covered."""
    assert min(neura_metrics['iou'].values()) >= MIN_BOX_IOU, neura_metrics
    assert neura_metrics['covered'] >= MIN_SMALL_BOXES, neura_metrics
