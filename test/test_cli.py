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

"""The enet-ros command line: dispatch, infer and info on a tiny model."""

import cv2
from enet_ros.classes import BOXES
from enet_ros.cli import main as cli
from enet_ros.model import CheckpointMeta, ENet, ENetArch, Preprocessing, save_checkpoint
import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = ENet(ENetArch(num_classes=3)).eval()
    meta = CheckpointMeta(model.arch, BOXES,
                          Preprocessing(resolution=None, resize_policy='native'))
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pt'
    save_checkpoint(path, model, meta)
    return path


def test_usage_and_unknown_command(capsys):
    assert cli([]) == 2
    assert cli(['--help']) == 0
    assert 'evaluate' in capsys.readouterr().out
    assert cli(['frobnicate']) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_infer_writes_masks_and_overlays_at_input_size(tiny_checkpoint, tmp_path, capsys):
    images = tmp_path / 'images'
    (images / 'sub').mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(images / 'a.png'), rng.integers(0, 255, (37, 53, 3), dtype=np.uint8))
    cv2.imwrite(str(images / 'sub' / 'b.jpg'), rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    out = tmp_path / 'out'
    assert cli(['infer', '--weights', str(tiny_checkpoint), str(images), '--recursive',
                '--out', str(out)]) == 0
    mask = cv2.imread(str(out / 'a_mask.png'), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (37, 53) and mask.dtype == np.uint8 and mask.max() < 3
    assert cv2.imread(str(out / 'sub' / 'b_overlay.png')).shape == (20, 30, 3)
    assert '2 images' in capsys.readouterr().out


def test_infer_rejects_missing_input_and_bad_alpha(tiny_checkpoint, tmp_path, capsys):
    assert cli(['infer', '--weights', str(tiny_checkpoint), str(tmp_path / 'none.png'),
                '--out', str(tmp_path)]) == 1
    assert 'neither a file nor a folder' in capsys.readouterr().err
    assert cli(['infer', '--weights', str(tiny_checkpoint), str(tmp_path), '--out', str(tmp_path),
                '--overlay-alpha', '2']) == 1
    assert 'outside 0..1' in capsys.readouterr().err


def test_info_prints_classes(tiny_checkpoint, capsys):
    assert cli(['info', str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert 'background, box, box_boundary' in out and 'variant=paper' in out
