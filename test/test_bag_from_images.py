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

"""``enet-ros bag-from-images``: images (and labels) into a rosbag2 that reads back exactly."""

import json
import logging
from pathlib import Path

import cv2
from enet_ros.cli import bag_from_images as b2i
from enet_ros.cli import main
from enet_ros.ros.conversions import image_to_numpy
import numpy as np
import pytest

CAMERA_YAML = """image_width: 64
image_height: 48
camera_name: test
camera_matrix:
  rows: 3
  cols: 3
  data: [50.0, 0.0, 31.5, 0.0, 51.0, 23.5, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.01, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [50.0, 0.0, 31.5, 0.0, 0.0, 51.0, 23.5, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


@pytest.fixture
def folder(tmp_path):
    """Three 64x48 colour images (names out of order) and their class-id labels."""
    rng = np.random.default_rng(3)
    images, labels = tmp_path / 'img', tmp_path / 'lbl'
    images.mkdir()
    labels.mkdir()
    truth = {}
    for name in ('b_002', 'a_001', 'c_003'):
        rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        label = rng.integers(0, 12, (48, 64), dtype=np.uint8)
        cv2.imwrite(str(images / f'{name}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(labels / f'{name}.png'), label)
        truth[name] = (rgb, label)
    (images / 'notes.txt').write_text('not an image')
    (tmp_path / 'camera.yaml').write_text(CAMERA_YAML)
    return tmp_path, truth


def read_bag(path):
    """Return ``{topic: [(bag_time_ns, msg), ...]}`` read with rosbags."""
    from rosbags.highlevel import AnyReader
    out = {}
    with AnyReader([Path(path)]) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, reader.deserialize(raw, conn.msgtype)))
    return out


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_images_labels_and_camera_info_read_back(folder, storage, capsys):
    """Sorted images at the rate; pixels, labels, K and the class list survive exactly."""
    root, truth = folder
    out = root / f'bag_{storage}'
    assert main(['bag-from-images', str(root / 'img'), str(out), '--rate', '4',
                 '--camera-info', str(root / 'camera.yaml'), '--storage', storage,
                 '--labels', str(root / 'lbl'), '--classes', 'camvid',
                 '--frame-id', 'cam_optical', '--stamp-start', '1700000000.5']) == 0
    assert '3 images at 4 Hz' in capsys.readouterr().out
    topics = read_bag(out)
    names = sorted(truth)
    images = topics['/camera/color/image_raw']
    assert len(images) == 3
    for i, (t, msg) in enumerate(images):
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        assert stamp == t == 1_700_000_000_500_000_000 + i * 250_000_000
        assert msg.header.frame_id == 'cam_optical' and msg.encoding == 'rgb8'
        np.testing.assert_array_equal(image_to_numpy(msg)[0], truth[names[i]][0])
    infos = topics['/camera/color/camera_info']
    assert [t for t, _ in infos] == [t for t, _ in images]
    np.testing.assert_allclose(infos[0][1].k, [50, 0, 31.5, 0, 51, 23.5, 0, 0, 1])
    np.testing.assert_allclose(infos[0][1].d, [0.1, -0.01, 0, 0, 0])
    assert (infos[0][1].width, infos[0][1].height) == (64, 48)
    masks = topics['/enet_ros/ground_truth/mask']
    for i, (_, msg) in enumerate(masks):
        assert msg.encoding == 'mono8'
        np.testing.assert_array_equal(image_to_numpy(msg)[0], truth[names[i]][1])
    docs = [json.loads(m.data) for _, m in topics['/enet_ros/ground_truth']]
    assert docs[1]['source'] == {'image': 'b_002.png', 'label': 'b_002.png'}
    assert docs[0]['meta']['labels']['classes'][0] == 'sky'
    assert docs[0]['meta']['labels']['ignore_index'] == 11
    assert 'boxes' not in docs[0]  # no box ground truth: the replay scores masks only
    assert docs[2]['header']['stamp'] == {'sec': 1_700_000_001, 'nanosec': 0}


def test_without_camera_info_a_pinhole_guess_with_a_warning(folder, caplog):
    """No --camera-info: 60 degree horizontal FOV, centred, no distortion; a warning says so."""
    root, _ = folder
    with caplog.at_level(logging.WARNING):
        counts = b2i.write_bag(b2i.list_images(str(root / 'img'))[:1], str(root / 'plain'))
    assert any('pinhole guess' in r.getMessage() for r in caplog.records)
    assert counts == {'/camera/color/image_raw': 1, '/camera/color/camera_info': 1}
    info = read_bag(root / 'plain')['/camera/color/camera_info'][0][1]
    f = 32 / np.tan(np.radians(30))
    np.testing.assert_allclose(info.k, [f, 0, 31.5, 0, f, 23.5, 0, 0, 1])
    assert not np.any(info.d)


def test_camera_info_is_scaled_to_each_image_and_checked(tmp_path):
    """Same aspect ratio: K scaled about pixel centres; another aspect ratio: a clear error."""
    (tmp_path / 'c.yaml').write_text(CAMERA_YAML)
    info = b2i.load_camera_info(str(tmp_path / 'c.yaml'))
    big = b2i.scale_camera_info(info, 128, 96)
    assert big['k'][0] == 100.0 and big['k'][2] == pytest.approx(63.5)
    assert big['k'][5] == pytest.approx(47.5) and big['p'][6] == pytest.approx(47.5)
    with pytest.raises(ValueError, match='aspect ratios differ'):
        b2i.scale_camera_info(info, 64, 64)
    (tmp_path / 'bad.yaml').write_text('image_width: 3\n')
    with pytest.raises(ValueError, match='missing'):
        b2i.load_camera_info(str(tmp_path / 'bad.yaml'))
    # sensor_msgs field names (enet-ros synth's camera_info/NAME.yaml) work too
    (tmp_path / 's.yaml').write_text('width: 64\nheight: 48\nk: [50, 0, 31.5, 0, 50, 23.5, 0, 0, '
                                     '1]\nd: [0, 0, 0, 0, 0]\ndistortion_model: plumb_bob\n')
    assert b2i.load_camera_info(str(tmp_path / 's.yaml'))['p'][3] == 0.0


def test_errors_name_the_problem(folder, capsys):
    """Missing folder / label, colour labels, existing output, --classes without --labels."""
    root, _ = folder
    assert main(['bag-from-images', str(root / 'nope'), str(root / 'o1')]) == 1
    assert 'does not exist' in capsys.readouterr().err
    (root / 'lbl' / 'c_003.png').unlink()
    assert main(['bag-from-images', str(root / 'img'), str(root / 'o2'), '--labels',
                 str(root / 'lbl')]) == 1
    assert 'no label for c_003.png' in capsys.readouterr().err
    cv2.imwrite(str(root / 'lbl' / 'c_003.png'), np.dstack([
        np.zeros((48, 64), np.uint8), np.ones((48, 64), np.uint8), np.zeros((48, 64), np.uint8)]))
    assert main(['bag-from-images', str(root / 'img'), str(root / 'o3'), '--labels',
                 str(root / 'lbl')]) == 1
    assert 'colour image' in capsys.readouterr().err
    (root / 'exists').mkdir()
    assert main(['bag-from-images', str(root / 'img'), str(root / 'exists')]) == 1
    assert 'exists' in capsys.readouterr().err
    assert main(['bag-from-images', str(root / 'img'), str(root / 'o4'), '--classes',
                 'camvid']) == 1
    assert '--labels' in capsys.readouterr().err
