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


def test_infer_skips_undecodable_files_and_exits_non_zero(tiny_checkpoint, tmp_path, capsys):
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'good.png'), np.full((16, 24, 3), 128, np.uint8))
    (images / 'broken.png').write_bytes(b'not a png')
    out = tmp_path / 'out'
    assert cli(['infer', '--weights', str(tiny_checkpoint), str(images), '--out', str(out)]) == 1
    captured = capsys.readouterr()
    assert '1 images' in captured.out
    assert '1 of 2 files could not be read and were skipped' in captured.err
    assert 'broken.png' in captured.err
    assert (out / 'good_mask.png').is_file() and not (out / 'broken_mask.png').exists()


def test_output_paths_are_checked_before_the_work(tiny_checkpoint, tmp_path, capsys):
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    image = tmp_path / 'img.png'
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert cli(['infer', '--weights', str(tiny_checkpoint), '--out', str(a_file),
                str(image)]) == 1
    assert 'is a file, expected an output folder' in capsys.readouterr().err
    assert cli(['export', '--weights', str(tiny_checkpoint), '--out', str(tmp_path),
                '--size', '32x24']) == 1
    assert 'is a directory, expected a file name' in capsys.readouterr().err
    assert cli(['evaluate', '--weights', str(tiny_checkpoint), '--data', str(tmp_path),
                '--report', str(tmp_path)]) == 1
    assert "--report '" in capsys.readouterr().err
    assert cli(['benchmark', '--weights', str(tiny_checkpoint), '--size', '32x24',
                '--report', str(a_file / 'r.json')]) == 1
    assert 'is a file, not a folder' in capsys.readouterr().err


def test_evaluate_rejects_a_bad_limit_and_a_file_as_dataset(tiny_checkpoint, tmp_path, capsys):
    for limit in ('0', '-3'):
        assert cli(['evaluate', '--weights', str(tiny_checkpoint), '--data', str(tmp_path),
                    '--limit', limit]) == 1
        assert f'--limit {limit}: give a number of images >= 1' in capsys.readouterr().err
    assert cli(['evaluate', '--weights', str(tiny_checkpoint), '--data',
                str(tiny_checkpoint)]) == 1
    assert 'is a file, expected a dataset folder' in capsys.readouterr().err


def test_info_on_a_directory_says_so(tmp_path, capsys):
    assert cli(['info', str(tmp_path)]) == 1
    assert 'is a directory, expected a checkpoint file' in capsys.readouterr().err
