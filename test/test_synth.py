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

"""Tests of ``enet-ros synth``: determinism, label/ground-truth content, exact geometry, bag."""

import hashlib
import json
import math
from pathlib import Path

import cv2
from enet_ros.cli import main as cli_main
from enet_ros.synth import CLASS_NAMES, generate_sample, SYNTH_VERSION, SynthConfig
from enet_ros.synth.geometry import look_at, matrix_from_quat_xyzw, rot_z
from enet_ros.synth.groundtruth import camera_info, ground_truth
from enet_ros.synth.noise import stereo_occlusion
from enet_ros.synth.render import render_scene
from enet_ros.synth.scene import CameraModel, Cuboid, Light, Material, Scene
import numpy as np
import pytest
import yaml

SIZE = '96x72'


def _tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def _synth(out: Path, seed: int, *extra: str) -> None:
    argv = ['synth', '--out', str(out), '--count', '3', '--seed', str(seed), '--size', SIZE,
            '--log-level', 'WARNING', *extra]
    assert cli_main(argv) == 0


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    """Three small scenes with an mcap bag inside the dataset folder."""
    out = tmp_path_factory.mktemp('synth') / 'a'
    _synth(out, 7, '--bag', str(out / 'bag'))
    return out


def test_same_seed_same_bytes(dataset, tmp_path):
    again = tmp_path / 'b'
    _synth(again, 7, '--bag', str(again / 'bag'), '--workers', '2')
    a, b = _tree_digest(dataset), _tree_digest(again)
    assert len(a) == 3 * 6 + 1 + 2  # 6 files per scene, dataset.json, bag (mcap + metadata)
    assert a == b


def test_same_seed_same_bytes_sqlite3(tmp_path):
    for name in ('x', 'y'):
        _synth(tmp_path / name, 3, '--bag', str(tmp_path / name / 'bag'),
               '--bag-storage', 'sqlite3')
    assert _tree_digest(tmp_path / 'x') == _tree_digest(tmp_path / 'y')
    assert (tmp_path / 'x' / 'bag' / 'bag.db3').is_file()


def test_different_seed_different_bytes(dataset, tmp_path):
    other = tmp_path / 'c'
    _synth(other, 8)
    a, b = _tree_digest(dataset), _tree_digest(other)
    for kind in ('rgb', 'mask', 'depth', 'gt'):
        for i in range(3):
            key = f'{kind}/{i:06d}.' + ('json' if kind == 'gt' else 'png')
            assert a[key] != b[key], key


def test_dataset_json_and_layout(dataset):
    doc = json.loads((dataset / 'dataset.json').read_text())
    assert doc['version'] == SYNTH_VERSION
    assert doc['seed'] == 7 and doc['count'] == 3
    assert doc['classes']['names'] == ['background', 'box', 'box_boundary']
    assert doc['classes']['colors'] == [[0, 0, 0], [230, 160, 40], [40, 220, 255]]
    assert doc['size'] == {'width': 96, 'height': 72}
    assert doc['scenes'] == ['000000', '000001', '000002']
    for kind, pattern in doc['files'].items():
        for name in doc['scenes']:
            assert (dataset / pattern.format(name=name)).is_file(), (kind, name)


def test_files_content(dataset):
    for i in range(3):
        name = f'{i:06d}'
        rgb = cv2.imread(str(dataset / 'rgb' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(dataset / 'mask' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(str(dataset / 'instance' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(dataset / 'depth' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert rgb.shape == (72, 96, 3) and rgb.dtype == np.uint8
        assert mask.shape == (72, 96) and mask.dtype == np.uint8
        assert inst.dtype == np.uint16 and depth.dtype == np.uint16
        assert set(np.unique(mask).tolist()) <= {0, 1, 2}
        # Class 1 or 2 exactly where a top face is; class 2 only on instances.
        assert np.array_equal(mask > 0, inst > 0)
        valid = depth[depth > 0]
        assert valid.size > 0.5 * depth.size
        assert 200 <= valid.min() and valid.max() < 10000  # millimetres
        gt = json.loads((dataset / 'gt' / f'{name}.json').read_text())
        info = yaml.safe_load((dataset / 'camera_info' / f'{name}.yaml').read_text())
        assert info['distortion_model'] == 'plumb_bob' and info['d'] == [0.0] * 5
        assert info['k'] == gt['camera']['K'] and len(info['p']) == 12 and len(info['r']) == 9
        assert info['header']['frame_id'] == 'camera_color_optical_frame'
        assert info['header']['stamp'] == gt['header']['stamp']
        assert gt['header']['stamp'] == {'sec': 1700000000, 'nanosec': i * 200000000}
        assert gt['meta']['version'] == SYNTH_VERSION
        counts = np.bincount(inst.ravel(), minlength=len(gt['boxes']) + 1)
        assert counts.size == len(gt['boxes']) + 1  # no id beyond the listed cartons
        assert any(b['visible_px'] > 0 for b in gt['boxes'])
        for box in gt['boxes']:
            assert counts[box['id']] == box['visible_px']
            _check_box(box, np.array(gt['camera']['K']).reshape(3, 3))


def _check_box(box: dict, K: np.ndarray) -> None:
    R = matrix_from_quat_xyzw(box['quaternion_xyzw'])
    p = np.array(box['position_m'])
    length, width, height = box['size_m']
    assert length >= width > 0 and height > 0
    assert math.isclose(np.linalg.norm(box['quaternion_xyzw']), 1.0, abs_tol=1e-6)
    np.testing.assert_allclose(R[:, 2], box['normal'], atol=1e-6)
    assert R[2, 2] < 0  # the normal points towards the camera
    assert R[0, 0] >= -1e-9  # documented choice of the x sign
    corners = np.array(box['top_corners_m'])
    np.testing.assert_allclose(corners.mean(axis=0), p, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(corners[1] - corners[0]), length, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(corners[2] - corners[1]), width, atol=1e-6)
    np.testing.assert_allclose(abs(np.dot(corners[1] - corners[0], R[:, 0])), length, atol=1e-6)
    if box['top_corners_px'] is not None:
        uvw = corners @ K.T
        np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], box['top_corners_px'], atol=1e-3)
    assert 0.0 <= box['visible_fraction'] <= 1.0


def _single_box_scene(width=320, height=240, fx=300.0, yaw_deg=30.0) -> Scene:
    """Build one 0.4 x 0.3 x 0.2 m carton on the floor, camera 2 m above looking down."""
    cam = CameraModel(width=width, height=height, fx=fx, fy=fx, cx=(width - 1) / 2.0,
                      cy=(height - 1) / 2.0)
    R = look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    style = {'key': 1, 'base': (196, 160, 118), 'ink': (20, 20, 20),
             'tape': {'kind': 'none', 'width': 0.05, 'color': (0, 0, 0), 'h_tape': False,
                      'offset': 0.0},
             'seam': False, 'flap_lines': False, 'edge': 0.0, 'edge_w': 0.003, 'round': 0.0,
             'stains': 0.0, 'mottle': 0.02, 'top_prints': [], 'side_prints': []}
    box = Cuboid(center=np.array([0.0, 0.0, 0.1]), rotation=rot_z(math.radians(yaw_deg)),
                 size=np.array([0.4, 0.3, 0.2]), kind='box',
                 material=Material('carton', {'style': style, 'flip': False, 'variant': 0,
                                              'jitter': [0.0, 0.0, 0.0]}, 5),
                 box_id=1, support='floor')
    floor = Material('floor', {'type': 'concrete', 'base': (150, 150, 150), 'marks': [],
                               'cables': 0, 'debris': 0.0}, 6)
    light = Light(direction=np.array([0.3, 0.2, 0.93]) / np.linalg.norm([0.3, 0.2, 0.93]),
                  key=0.7, key_rgb=np.ones(3), ambient=0.5, ambient_rgb=np.ones(3),
                  shadow_strength=0.8, shadow_softness_px=2.0, gradient=np.zeros(3),
                  ao_strength=0.3)
    extras = {'exposure_target': 0.55, 'cable': False, 'dropout_frac': 0.0, 'speckle_p': 0.0}
    return Scene(camera=cam, R_world_camera=R, t_world_camera=np.array([0.0, 0.0, 2.0]),
                 objects=[box], floor=floor, light=light, layout='floor', support_height=0.0,
                 support='floor', texel=0.004, extras=extras)


def test_exact_geometry_single_box():
    scene = _single_box_scene()
    rng = np.random.Generator(np.random.PCG64(0))
    frame = render_scene(scene, rng, boundary_px=2)
    gt = ground_truth(scene, frame, 0, {})
    box = gt['boxes'][0]
    # Top-face centre straight below the camera, 2.0 - 0.2 m away.
    np.testing.assert_allclose(box['position_m'], [0.0, 0.0, 1.8], atol=1e-9)
    # Camera y = -world y here, so yaw +30 deg appears as -30 deg about the (flipped) normal.
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    expected = np.array([[c, -s, 0.0], [-s, -c, 0.0], [0.0, 0.0, -1.0]])
    np.testing.assert_allclose(matrix_from_quat_xyzw(box['quaternion_xyzw']), expected,
                               atol=1e-8)
    np.testing.assert_allclose(box['size_m'], [0.4, 0.3, 0.2], atol=1e-12)
    # The instance pixels are exactly the pixel centres inside the projected top face.
    poly = np.array(box['top_corners_px'])
    h, w = frame.instance.shape
    vv, uu = np.mgrid[0:h, 0:w].astype(float)
    signed = []
    for i in range(4):
        a, b = poly[i], poly[(i + 1) % 4]
        e = b - a
        signed.append((e[0] * (vv - a[1]) - e[1] * (uu - a[0])) / np.linalg.norm(e))
    signed = np.stack(signed)
    if signed.sum() < 0:
        signed = -signed
    inside = np.all(signed > 1e-6, axis=0)
    clear = np.all(np.abs(signed) > 1e-6, axis=0) | ~np.all(signed > -1e-6, axis=0)
    assert np.array_equal((frame.instance == 1)[clear], inside[clear])
    assert box['visible_px'] == int(inside.sum()) == box['unoccluded_px']
    assert box['fully_visible'] and box['in_image']
    assert abs(box['projected_area_px'] - inside.sum()) < 0.02 * inside.sum()
    # Exact (noise-free) depth on the top face is 1.8 m; the sensor depth is within noise.
    top = frame.instance == 1
    np.testing.assert_allclose(frame.depth_m[top], 1.8, atol=1e-5)
    d = frame.depth_mm[top & (frame.depth_mm > 0)].astype(float)
    assert abs(np.median(d) - 1800.0) <= 3.0 and d.size > 0.9 * top.sum()
    # The floor (z = 0) is 2 m from the camera along the optical axis everywhere.
    assert abs(frame.depth_m[h // 2, 5] - 2.0) < 1e-5 and abs(frame.depth_m[0, 0] - 2.0) < 1e-5
    # Boundary band: 2 px inside the outline; the eroded interior is class 1.
    assert set(np.unique(frame.mask[top]).tolist()) == {1, 2}
    interior = cv2.erode(top.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.all(frame.mask[interior] == 1)
    assert np.all(frame.mask[top & ~interior] == 2)
    assert np.all(frame.mask[~top] == 0)


def test_label_options_side_ignore_and_no_boundary():
    scene = _single_box_scene(yaw_deg=10.0)
    scene.t_world_camera = np.array([0.6, 0.0, 2.0])  # off-centre: side faces in view
    scene.R_world_camera = look_at(scene.t_world_camera, (0.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    rng = np.random.Generator(np.random.PCG64(1))
    frame = render_scene(scene, rng, boundary_px=0, side_label=255)
    assert set(np.unique(frame.mask).tolist()) == {0, 1, 255}
    assert np.array_equal(frame.mask == 1, frame.instance == 1)
    with pytest.raises(ValueError, match='side_label'):
        render_scene(scene, rng, side_label=3)


def test_camera_info_layout():
    scene = _single_box_scene()
    info = camera_info(scene, 1_700_000_000_500_000_000)
    assert info['header'] == {'stamp': {'sec': 1700000000, 'nanosec': 500000000},
                              'frame_id': 'camera_color_optical_frame'}
    assert (info['width'], info['height']) == (320, 240)
    assert info['k'] == [300.0, 0.0, 159.5, 0.0, 300.0, 119.5, 0.0, 0.0, 1.0]
    assert info['p'] == [300.0, 0.0, 159.5, 0.0, 0.0, 300.0, 119.5, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_stereo_occlusion_band():
    # Far plane at 2 m with a near block at 1 m in columns 40..59; fx 400 px, baseline 5 cm.
    depth = np.full((4, 100), 2.0, np.float32)
    depth[:, 40:60] = 1.0
    occ = stereo_occlusion(depth, fx=400.0, baseline_m=0.05)
    # Left border band: columns with u - fx*B/z < 0, i.e. u < 10 px on the far plane.
    assert occ[0, :10].all() and not occ[0, 10:30].any()
    # Shadow left of the near block: fx*B*(1/1 - 1/2) = 10 px wide, columns 30..39 (column 30
    # maps exactly onto the block's edge in the second image and counts as visible).
    assert occ[0, 31:40].all() and not occ[0, 40:].any() and not occ[0, 10:31].any()


def test_generate_sample_api_and_validation():
    cfg = SynthConfig(width=64, height=48, layouts=('conveyor',))
    sample = generate_sample(11, 2, cfg)
    assert sample.name == '000002' and sample.scene.layout == 'conveyor'
    assert sample.stamp_ns == 1_700_000_000_400_000_000
    assert tuple(sample.gt['meta']['labels']['classes']) == CLASS_NAMES
    again = generate_sample(11, 2, cfg)
    assert np.array_equal(sample.frame.rgb, again.frame.rgb)
    assert np.array_equal(sample.frame.depth_mm, again.frame.depth_mm)
    with pytest.raises(ValueError, match='layout'):
        generate_sample(0, 0, SynthConfig(layouts=('shelf',)))
    with pytest.raises(ValueError, match='too small'):
        generate_sample(0, 0, SynthConfig(width=8, height=8))


def test_cli_refuses_to_overwrite(dataset, capsys):
    assert cli_main(['synth', '--out', str(dataset), '--count', '1', '--size', SIZE]) == 1
    assert 'overwrite' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(['synth', '--out', str(dataset), '--size', '640by480'])


@pytest.mark.parametrize('make_args,message', [
    (lambda d: ['--out', str(d / 'file')], 'is a file, expected an output folder'),
    (lambda d: ['--out', str(d / 'file' / 'sub')], 'cannot create the folder'),
    (lambda d: ['--out', str(d / 'o'), '--bag', str(d / 'o')], 'give the bag a folder of its own'),
    (lambda d: ['--out', str(d / 'o'), '--bag', str(d / 'o' / 'rgb')], 'one of its sub-folders'),
    (lambda d: ['--out', str(d / 'o'), '--bag', str(d / 'file' / 'bag')],
     'is a file, not a folder'),
])
def test_cli_names_impossible_output_paths(tmp_path, capsys, make_args, message):
    (tmp_path / 'file').write_text('not a folder')
    argv = ['synth', *make_args(tmp_path), '--count', '1', '--size', SIZE]
    assert cli_main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err
    assert not (tmp_path / 'o' / 'dataset.json').exists()


def test_overwrite_with_fewer_scenes_removes_the_old_scenes_files(tmp_path):
    out = tmp_path / 'ds'
    _synth(out, 3, '--preview')
    assert len(list((out / 'rgb').iterdir())) == 3
    (out / 'notes.txt').write_text('mine')                 # not a scene file: kept
    argv = ['synth', '--out', str(out), '--count', '1', '--seed', '3', '--size', SIZE,
            '--overwrite', '--log-level', 'WARNING']
    assert cli_main(argv) == 0
    for sub, ext in (('rgb', 'png'), ('mask', 'png'), ('instance', 'png'), ('depth', 'png'),
                     ('camera_info', 'yaml'), ('gt', 'json')):
        assert sorted(p.name for p in (out / sub).iterdir()) == [f'000000.{ext}'], sub
    assert list((out / 'preview').iterdir()) == []
    assert (out / 'notes.txt').read_text() == 'mine'
    assert json.loads((out / 'dataset.json').read_text())['scenes'] == ['000000']


def test_bag_round_trip(dataset):
    rosbags = pytest.importorskip('rosbags')
    del rosbags
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores
    seen = {}
    with AnyReader([dataset / 'bag'], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as r:
        counts = {c.topic: c.msgcount for c in r.connections}
        assert counts == dict.fromkeys((
            '/camera/color/image_raw', '/camera/color/camera_info',
            '/camera/aligned_depth_to_color/image_raw',
            '/camera/aligned_depth_to_color/camera_info', '/enet_ros/ground_truth',
            '/enet_ros/ground_truth/mask', '/enet_ros/ground_truth/instances'), 3)
        for conn, stamp, raw in r.messages():
            msg = r.deserialize(raw, conn.msgtype)
            i = (stamp - 1_700_000_000_000_000_000) // 200_000_000
            name = f'{i:06d}'
            if hasattr(msg, 'header'):
                assert msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec == stamp
            if conn.topic == '/camera/color/image_raw':
                assert (msg.encoding, msg.width, msg.height, msg.step) == ('rgb8', 96, 72, 288)
                assert msg.header.frame_id == 'camera_color_optical_frame'
                img = np.frombuffer(msg.data, np.uint8).reshape(72, 96, 3)
                ref = cv2.imread(str(dataset / 'rgb' / f'{name}.png'))[..., ::-1]
                assert np.array_equal(img, ref)
            elif conn.topic == '/camera/aligned_depth_to_color/image_raw':
                assert msg.encoding == '16UC1' and msg.is_bigendian == 0
                d = np.frombuffer(msg.data, '<u2').reshape(72, 96)
                ref = cv2.imread(str(dataset / 'depth' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
                assert np.array_equal(d, ref)
            elif conn.topic == '/enet_ros/ground_truth':
                assert msg.data == (dataset / 'gt' / f'{name}.json').read_text()
            elif conn.topic == '/enet_ros/ground_truth/mask':
                m = np.frombuffer(msg.data, np.uint8).reshape(72, 96)
                ref = cv2.imread(str(dataset / 'mask' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
                assert msg.encoding == 'mono8' and np.array_equal(m, ref)
            elif conn.topic == '/camera/color/camera_info':
                gt = json.loads((dataset / 'gt' / f'{name}.json').read_text())
                np.testing.assert_array_equal(msg.k, gt['camera']['K'])
                assert msg.distortion_model == 'plumb_bob'
            seen[conn.topic] = seen.get(conn.topic, 0) + 1
    assert sum(seen.values()) == 21
