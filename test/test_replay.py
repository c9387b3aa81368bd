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

"""``enet-ros replay``: bags through the live node over DDS, recording, report, frames.

Pure parts first (topic plan, node command line, parameter files, box messages, label_info,
diagnostics). Then live runs (marker ``ros``): ``enet-ros replay`` as a subprocess, which
starts the node as its own subprocess, on small synthetic bags (``enet-ros synth``, 3 scenes at
320x240) in both storage formats; an attached "oracle" node whose segmenter returns the ground
truth (mIoU exactly 1, box poses checked against the bag's ground truth); the NEURA real bags
(``data``) and the CamVid parity with ``enet-ros evaluate`` (``data``, ``slow``).

The model: ``models/enet_boxes.pt`` where it exists, else a tiny random-weight ENet (checks that
depend on the model's quality apply to the oracle node only).
"""

import json
import os
from pathlib import Path
import subprocess
import sys
from types import SimpleNamespace

from enet_ros.boxes.geometry import matrix_to_quaternion
from enet_ros.model.checkpoint import CheckpointMeta, ClassInfo, Preprocessing, save_checkpoint
from enet_ros.model.enet import ENet, ENetArch
from enet_ros.ros.replay import (boxes_from_messages, diagnostic_counts, node_command,
                                 params_file_value, parse_detections_json, parse_label_info,
                                 parse_remaps, plan_inputs, ReplayOptions)
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO_ROOT / 'test' / 'helpers'))
from node_harness import domain_id, NodeProcess  # noqa: E402,I100

SHIPPED = REPO_ROOT / 'models' / 'enet_boxes.pt'
COLOR, INFO = '/camera/color/image_raw', '/camera/color/camera_info'
DEPTH = '/camera/aligned_depth_to_color/image_raw'
RUN_TIMEOUT = 480
CLASSES = ClassInfo(names=('background', 'box', 'box_boundary'),
                    colors=((0, 0, 0), (230, 160, 40), (40, 220, 255)))


# --------------------------------------------------------------------------- pure: the plan


def conns(*items):
    """Return fake bag connections from ``(topic, type, count)`` triples."""
    return [SimpleNamespace(topic=t, msgtype=m, msgcount=n) for t, m, n in items]


REALSENSE = conns((COLOR, 'sensor_msgs/msg/Image', 5),
                  (COLOR + '/compressed', 'sensor_msgs/msg/CompressedImage', 5),
                  (INFO, 'sensor_msgs/msg/CameraInfo', 5),
                  (DEPTH, 'sensor_msgs/msg/Image', 5),
                  ('/enet_ros/ground_truth', 'std_msgs/msg/String', 5),
                  ('/tf_static', 'tf2_msgs/msg/TFMessage', 1))


def test_plan_defaults_from_the_bag(tmp_path):
    """Raw colour, depth because the bag has it, ground truth found, remaps applied."""
    plan = plan_inputs(REALSENSE, ReplayOptions(bag='b', limit=3, remaps=[f'{DEPTH}:=/d']))
    assert (plan.colour, plan.transport, plan.use_depth, plan.frames) == (COLOR, 'raw', True, 3)
    assert plan.published == {COLOR: COLOR, INFO: INFO, DEPTH: '/d'}
    assert (plan.gt, plan.gt_mask) == ('/enet_ros/ground_truth', None)
    colour_only = plan_inputs(REALSENSE[:3], ReplayOptions(bag='b'))
    assert not colour_only.use_depth and colour_only.depth is None
    compressed = plan_inputs(REALSENSE, ReplayOptions(bag='b', transport='compressed',
                                                      use_depth=False))
    assert compressed.colour == COLOR + '/compressed'
    assert compressed.node_image_topic == COLOR and compressed.published == {
        COLOR + '/compressed': COLOR + '/compressed', INFO: INFO}
    # a bag with only the compressed stream: auto picks it
    assert plan_inputs(REALSENSE[1:], ReplayOptions(bag='b')).transport == 'compressed'


def test_plan_follows_the_params_file_and_reports_missing_topics(tmp_path):
    """use_depth / input_transport from the params file; a missing topic lists the bag's."""
    params = tmp_path / 'p.yaml'
    params.write_text('/**:\n  ros__parameters:\n    use_depth: false\n'
                      'enet:\n  ros__parameters:\n    input_transport: compressed\n'
                      'other:\n  ros__parameters:\n    use_depth: true\n')
    assert params_file_value([str(params)], 'use_depth') is False
    assert params_file_value([str(params)], 'input_transport') == 'compressed'
    assert params_file_value([str(params)], 'weights') is None
    plan = plan_inputs(REALSENSE, ReplayOptions(bag='b', params_files=[str(params)]))
    assert (plan.use_depth, plan.transport) == (False, 'compressed')
    with pytest.raises(ValueError, match='/tf_static'):
        plan_inputs(REALSENSE, ReplayOptions(bag='b', image_topic='/other/image'))
    with pytest.raises(ValueError, match='no /x/depth'):
        plan_inputs(REALSENSE, ReplayOptions(bag='b', depth_topic='/x/depth', use_depth=True))
    for bad in (['a:=/b'], ['/a=/b']):
        with pytest.raises(ValueError, match='FROM:=TO'):
            parse_remaps(bad)
    with pytest.raises(ValueError, match='rate'):
        ReplayOptions(bag='b', rate=0).validate()


def test_plan_refuses_wrong_topic_types_and_a_mistyped_depth_topic():
    """Depth / camera_info of another type, or a named depth topic that is absent, are errors."""
    swapped = conns((COLOR, 'sensor_msgs/msg/Image', 5), (INFO, 'sensor_msgs/msg/Image', 5),
                    (DEPTH, 'sensor_msgs/msg/CameraInfo', 5))
    with pytest.raises(ValueError, match=r'the depth topic .* is sensor_msgs/msg/CameraInfo, not '
                                         r'sensor_msgs/msg/Image'):
        plan_inputs(swapped, ReplayOptions(bag='b'))
    with pytest.raises(ValueError, match=r'the camera_info topic .* is sensor_msgs/msg/Image, '
                                         r'not sensor_msgs/msg/CameraInfo'):
        plan_inputs(swapped, ReplayOptions(bag='b', use_depth=False))
    with pytest.raises(ValueError, match=r'--depth-topic /camera/depth/image_rect_raw is not in '
                                         r'the bag; its topics: .*Fix the name, or give '
                                         r'--no-depth'):
        plan_inputs(REALSENSE, ReplayOptions(bag='b', depth_topic='/camera/depth/image_rect_raw'))
    plan = plan_inputs(REALSENSE, ReplayOptions(bag='b', depth_topic='/camera/depth/x',
                                                use_depth=False))      # explicit colour only
    assert not plan.use_depth


def test_a_bag_damaged_further_in_is_a_clear_error():
    """An error of the bag reader mid-way names the bag and the count read; others pass."""
    from enet_ros.ros.replay import _read_messages

    class DamagedReader:
        def messages(self, connections):
            yield 'm0'
            yield 'm1'
            raise OSError('database disk image is malformed')

    got = []
    with pytest.raises(RuntimeError, match=r'cannot read b\.db3 after 2 messages: the bag is '
                                           r'damaged \(OSError: database disk image is '
                                           r'malformed\)'):
        for item in _read_messages(DamagedReader(), [], 'b.db3'):
            got.append(item)
    assert got == ['m0', 'm1']
    with pytest.raises(KeyError):                       # the replay's own errors are not hidden
        for _ in _read_messages(DamagedReader(), [], 'b.db3'):
            raise KeyError('mine')


def test_node_command_order_and_remaps(tmp_path):
    """Files first, then the replay's settings, extra params, and the weights last."""
    params = tmp_path / 'p.yaml'
    params.write_text('{}')
    opts = ReplayOptions(bag='b', weights='w.pt', params_files=[str(params)],
                         node_params=['num_threads:=1'], namespace='/robot1', node_name='seg',
                         remaps=[f'{COLOR}:=/cam/image'])
    plan = plan_inputs(REALSENSE, opts)
    argv = node_command(opts, plan)
    assert argv[:5] == [sys.executable, '-m', 'enet_ros.cli', 'node', '--ros-args']
    ros = ' '.join(argv[5:])
    assert ros.startswith('-r __node:=seg -r __ns:=/robot1 --params-file ')
    assert ('-p use_sim_time:=true -p use_depth:=true -p input_transport:=raw '
            '-r image:=/cam/image -r camera_info:=/camera/color/camera_info '
            f'-r depth:={DEPTH} -p num_threads:=1 -p weights:=') in ros
    assert ros.endswith(os.path.abspath('w.pt'))
    assert opts.node_fqn == '/robot1/seg' and ReplayOptions(bag='b').node_fqn == '/enet'


# --------------------------------------------------------------------------- pure: messages


def ros_pose(position, quat):
    """Return a duck-typed geometry_msgs/Pose."""
    return SimpleNamespace(position=SimpleNamespace(x=position[0], y=position[1],
                                                    z=position[2]),
                           orientation=SimpleNamespace(x=quat[0], y=quat[1], z=quat[2],
                                                       w=quat[3]))


def cube(position, quat, scale, marker_type=1, action=0):
    """Return a duck-typed visualization_msgs/Marker."""
    return SimpleNamespace(type=marker_type, action=action, pose=ros_pose(position, quat),
                           scale=SimpleNamespace(x=scale[0], y=scale[1], z=scale[2]))


def test_boxes_from_pose_array_and_markers():
    """Sizes from the cube on each pose's normal line (top-face or box-centred cubes)."""
    rot = np.diag([1.0, -1.0, -1.0])  # box z towards the camera
    q = matrix_to_quaternion(rot)
    poses = SimpleNamespace(poses=[ros_pose([0, 0, 1.5], q), ros_pose([0.5, 0, 1.5], q)])
    # the second box's cube is centred half its height below the top face (z_box = -z_cam)
    markers = SimpleNamespace(markers=[
        cube([0.5, 0, 1.6], q, [0.5, 0.4, 0.2]), cube([0, 0, 1.5], q, [0.3, 0.2, 0.1]),
        cube([9, 9, 9], q, [1, 1, 1], marker_type=9)])
    boxes = boxes_from_messages(poses, markers)
    np.testing.assert_allclose(boxes[0].size_m, [0.3, 0.2, 0.1])
    np.testing.assert_allclose(boxes[1].size_m, [0.5, 0.4, 0.2])
    assert [b.box_id for b in boxes] == [0, 1]
    # cubes that match no pose geometrically but one per pose: taken in order
    other = matrix_to_quaternion(np.diag([-1.0, 1.0, -1.0]))
    in_order = boxes_from_messages(poses, SimpleNamespace(markers=[
        cube([5, 0, 1], other, [1, 2, 3]), cube([6, 0, 1], other, [4, 5, 6])]))
    np.testing.assert_allclose(in_order[1].size_m, [4, 5, 6])
    # detections (one per pose) win over markers
    dets = parse_detections_json(json.dumps({'detections': [
        {'size_m': [1, 1, 1], 'score': 0.5}, {'size_m': [2, 2, 2]}]}))
    with_dets = boxes_from_messages(poses, markers, dets)
    assert with_dets[0].score == 0.5 and with_dets[1].size_m[0] == 2
    assert np.isnan(boxes_from_messages(poses)[0].size_m).all()
    assert boxes_from_messages(None) == []
    assert parse_detections_json('{"x": 1}') is None and parse_detections_json('nope') is None


def test_label_info_and_diagnostics_parsing():
    """label_info JSON gives names, ignore id, colours; diagnostics give the node's counters."""
    msg = SimpleNamespace(data=json.dumps({'names': ['a', 'b'], 'colors': [[1, 2, 3], [4, 5, 6]],
                                           'ignore_index': 1}))
    assert parse_label_info(msg) == (['a', 'b'], 1, [(1, 2, 3), (4, 5, 6)])
    kv = [SimpleNamespace(key=k, value=v) for k, v in
          (('received', '5'), ('processed', '4'), ('dropped', '1'), ('latency_ms', '3.2'))]
    diag = SimpleNamespace(status=[SimpleNamespace(name='other: x', values=[]),
                                   SimpleNamespace(name='robot/enet: segmentation', values=kv)])
    assert diagnostic_counts(diag, '/robot/enet') == {'received': 5, 'processed': 4,
                                                      'dropped': 1}
    assert diagnostic_counts(diag, '/enet') is None


# --------------------------------------------------------------------------- live fixtures


def executable(name):
    """Return the venv's console script ``name``, or skip."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f'{path} not installed (pip install -e .)')
    return str(path)


def child_env(domain):
    """Return the environment of the replay subprocess (localhost discovery)."""
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    return env


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """Return the shipped box model where it exists, else a tiny random-weight 3-class ENet."""
    if SHIPPED.exists():
        return SHIPPED
    import torch
    torch.manual_seed(0)
    arch = ENetArch(num_classes=3)
    path = tmp_path_factory.mktemp('replay_model') / 'tiny.pt'
    save_checkpoint(path, ENet(arch).eval(), CheckpointMeta(
        arch, CLASSES, Preprocessing(resolution=None, resize_policy='native')))
    return path


@pytest.fixture(scope='module', params=['mcap', 'sqlite3'])
def synth_bag(request, tmp_path_factory):
    """Return ``(dataset folder, bag folder)`` of 3 scenes at 320x240 in one storage format."""
    root = tmp_path_factory.mktemp(f'synth_{request.param}')
    out = subprocess.run([executable('enet-ros'), 'synth', '--out', str(root / 'data'),
                          '--count', '3', '--seed', '7', '--size', '320x240', '--bag',
                          str(root / 'bag'), '--bag-storage', request.param],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return root / 'data', root / 'bag', request.param


def replay(args, domain, timeout=RUN_TIMEOUT):
    """Run ``enet-ros replay`` as a subprocess; return (exit status, output)."""
    out = subprocess.run([executable('enet-ros'), 'replay', '--no-progress',
                          '--domain-id', str(domain)] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=timeout,
                         env=child_env(domain), stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout + out.stderr


def read_bag(path):
    """Return ``{topic: [(bag_time_ns, msg), ...]}`` of a bag, read with rosbags."""
    from rosbags.highlevel import AnyReader
    topics = {}
    with AnyReader([Path(path)]) as reader:
        for conn, t, raw in reader.messages():
            topics.setdefault(conn.topic, []).append((t, reader.deserialize(raw, conn.msgtype)))
    return topics


def stamp(msg):
    """Return ``msg.header.stamp`` in nanoseconds."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


# --------------------------------------------------------------------------- live runs


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_fast_replay_through_the_node_records_everything(synth_bag, weights, tmp_path):
    """--fast: frames in == out, nothing dropped, stamps kept, outputs recorded, frames drawn."""
    data, bag, storage = synth_bag
    report_path, record, frames = tmp_path / 'r.json', tmp_path / 'rec', tmp_path / 'frames'
    remap = ['--remap', f'{COLOR}:=/replay_test/image'] if storage == 'sqlite3' else []
    status, output = replay([bag, '--weights', weights, '--fast', '--param', 'num_threads:=1',
                             '--record', record, '--record-storage', storage,
                             '--report', report_path, '--export-frames', frames,
                             '--node-log', tmp_path / 'node.log'] + remap,
                            domain_id(60 if storage == 'mcap' else 61))
    assert status == 0, output
    report = json.loads(report_path.read_text())
    assert (report['frames_in'], report['frames_out']) == (3, 3), output
    assert report['dropped'] == {'replay': 0, 'node': 0}
    assert report['unexpected_outputs'] == 0 and report['node_exit_code'] == 0
    node = report['node_counts']
    assert 3 <= node['processed'] <= 3 + report['resent'] and node['failed'] == 0
    assert node['depth_unmatched'] == 0 and report['inputs']['use_depth'] is True
    assert 0 < report['latency_ms']['p50'] <= report['latency_ms']['p99'] < 60_000
    if remap:
        assert report['inputs']['colour'] == '/replay_test/image'
        assert 'input: /replay_test/image (Image)' in (tmp_path / 'node.log').read_text()
    seg = report['ground_truth']['segmentation']
    assert seg['mode'] == 'classes' and seg['frames'] == 3
    assert 0.0 <= seg['miou'] <= 1.0 and set(seg['per_class_iou']) == set(CLASSES.names)

    inputs = read_bag(bag)
    input_stamps = [stamp(m) for _, m in inputs[COLOR]]
    recorded = read_bag(record)
    masks = recorded['/enet/mask']
    assert [stamp(m) for _, m in masks] == input_stamps
    assert all(t == stamp(m) for t, m in masks)  # bag time = the input stamp
    assert all((m.width, m.height, m.encoding) == (320, 240, 'mono8') for _, m in masks)
    assert all(m.header.frame_id == 'camera_color_optical_frame' for _, m in masks)
    assert [stamp(m) for _, m in recorded['/enet/confidence']] == input_stamps
    assert recorded['/diagnostics'] and '/enet/label_info' in recorded
    if report['boxes_per_frame'] is not None:  # the node publishes ~/boxes
        boxes = recorded['/enet/boxes']
        assert [stamp(m) for _, m in boxes] == input_stamps
        assert report['boxes_per_frame']['frames_with_boxes_message'] == 3
        assert report['ground_truth']['boxes']['frames'] == 3
    names = sorted(p.name for p in frames.iterdir())
    assert names == ['contact_sheet.png', 'frame_00000.png', 'frame_00001.png',
                     'frame_00002.png']


@pytest.fixture(scope='module')
def bag_30hz(tmp_path_factory):
    """Return a 4-frame synth bag recorded at 30 Hz (frames 33 ms apart: depth slop is 50 ms)."""
    root = tmp_path_factory.mktemp('synth_30hz')
    out = subprocess.run([executable('enet-ros'), 'synth', '--out', str(root / 'data'),
                          '--count', '4', '--seed', '3', '--size', '320x240', '--rate', '30',
                          '--bag', str(root / 'bag')], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return root / 'bag'


def rewrite_bag(src, dst, colour_stamps=None):
    """Copy bag ``src`` to ``dst`` (mcap), giving colour frame k the stamp colour_stamps[k]."""
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores
    store = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([Path(src)], default_typestore=store) as reader, \
            Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        out, k = {}, 0
        for conn, t, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == COLOR and colour_stamps is not None:
                ns = colour_stamps[k]
                msg.header.stamp = type(msg.header.stamp)(sec=ns // 10**9, nanosec=ns % 10**9)
                k += 1
            if conn.topic not in out:
                out[conn.topic] = writer.add_connection(conn.topic, conn.msgtype, typestore=store)
            writer.write(out[conn.topic], t, store.serialize_cdr(msg, conn.msgtype))


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_fast_replay_pairs_each_30hz_frame_with_its_own_depth(bag_30hz, weights, tmp_path):
    """The previous frame's depth (33 ms earlier) is not taken for a frame's own: no stall."""
    report_path = tmp_path / 'r.json'
    status, output = replay([bag_30hz, '--weights', weights, '--fast', '--frame-timeout', '20',
                             '--param', 'num_threads:=1', '--report', report_path],
                            domain_id(62))
    assert status == 0, output
    report = json.loads(report_path.read_text())
    assert (report['frames_in'], report['frames_out']) == (4, 4), output
    assert report['dropped'] == {'replay': 0, 'node': 0}
    node = report['node_counts']
    assert node['received'] == 4 and node['processed'] >= 4 and node['depth_unmatched'] == 0
    assert report['latency_ms']['p99'] < 20_000 and 'counted as lost' not in output


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_stale_metadata_counts_and_duplicate_stamps_lose_no_frame_silently(
        bag_30hz, weights, tmp_path):
    """metadata.yaml listing fewer frames does not cut the replay; a repeated stamp is counted."""
    import yaml
    stamps = [stamp(m) for _, m in read_bag(bag_30hz)[COLOR]]
    bag = tmp_path / 'bag'
    rewrite_bag(bag_30hz, bag, colour_stamps=[stamps[0], stamps[1], stamps[1], stamps[3]])
    meta_path = bag / 'metadata.yaml'
    meta = yaml.safe_load(meta_path.read_text())
    for entry in meta['rosbag2_bagfile_information']['topics_with_message_count']:
        if entry['topic_metadata']['name'] == COLOR:
            assert entry['message_count'] == 4
            entry['message_count'] = 2                      # out of date: 2 of the 4 frames
    meta_path.write_text(yaml.safe_dump(meta))
    report_path = tmp_path / 'r.json'
    status, output = replay([bag, '--weights', weights, '--fast', '--frame-timeout', '20',
                             '--param', 'num_threads:=1', '--report', report_path],
                            domain_id(63))
    assert status == 0, output
    assert 'metadata.yaml of the bag lists 2 colour frames' in output
    assert 'but 4 were read' in output
    assert 'a second colour frame with stamp' in output and 'counted as dropped' in output
    report = json.loads(report_path.read_text())
    assert (report['frames_in'], report['frames_out']) == (4, 3), output
    assert report['dropped']['replay'] == 1 and report['node_counts']['received'] == 3


def test_impossible_output_paths_fail_before_the_replay(bag_30hz, tmp_path):
    """Output paths and options are checked up front (a bad one must not lose a finished run)."""
    (tmp_path / 'afile').write_text('x')
    (tmp_path / 'adir').mkdir()
    (tmp_path / 'bad.yaml').write_text('enet:\n  ros__parameters: {use_depth: [\n')
    bag = tmp_path / 'nobag'
    cases = [(['--report', tmp_path / 'adir'], 'is a directory, expected a file name'),
             (['--report', tmp_path / 'afile' / 'r.json'], 'is a file, not a folder'),
             (['--record', tmp_path / 'afile' / 'rec'], 'is a file, not a folder'),
             (['--node-log', tmp_path / 'adir'], 'is a directory, expected a file name'),
             (['--export-frames', tmp_path / 'afile'], 'is a file, expected an output folder'),
             (['--node-name', 'bad-name'], 'is not a valid ROS node name')]
    for extra, message in cases:
        status, output = replay([bag, '--fast'] + extra, domain_id(64), timeout=120)
        assert status == 1 and message in output and 'Traceback' not in output, (extra, output)
    # The params file is read with the bag (before the node starts).
    status, output = replay([bag_30hz, '--fast', '--params', tmp_path / 'bad.yaml'],
                            domain_id(64), timeout=120)
    assert status == 1 and 'line 3, column 1: invalid YAML' in output, output
    assert 'Traceback' not in output and 'starting the node' not in output


@pytest.fixture(scope='module')
def oracle_node(tmp_path_factory):
    """Start an oracle node (segmenter = ground truth, box outputs) for an mcap synth bag."""
    root = tmp_path_factory.mktemp('oracle')
    out = subprocess.run([executable('enet-ros'), 'synth', '--out', str(root / 'data'),
                          '--count', '3', '--seed', '7', '--size', '320x240', '--bag',
                          str(root / 'bag')], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    domain = domain_id(62)
    ns = f'/oracle_{os.getpid()}'
    proc = NodeProcess([sys.executable, str(REPO_ROOT / 'test' / 'helpers' /
                                            'replay_oracle_node.py'), str(root / 'data'),
                        '--ros-args', '-r', f'__ns:={ns}', '-p', 'use_sim_time:=true',
                        '-p', 'use_depth:=true', '-r', f'image:={COLOR}',
                        '-r', f'camera_info:={INFO}', '-r', f'depth:={DEPTH}'],
                       child_env(domain), root)
    try:
        assert proc.wait_for('DDS:', 120), proc.output
        yield SimpleNamespace(bag=root / 'bag', domain=domain, ns=ns, proc=proc)
    finally:
        status = proc.interrupt()
        assert status == 0, proc.output


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_attached_oracle_node_scores_perfect_masks_and_box_poses(oracle_node, tmp_path):
    """Ground-truth masks through DDS give mIoU 1 exactly; box poses match the ground truth."""
    report_path = tmp_path / 'r.json'
    status, output = replay([oracle_node.bag, '--attach', '--namespace', oracle_node.ns,
                             '--fast', '--report', report_path, '--record', tmp_path / 'rec',
                             '--export-frames', tmp_path / 'frames'], oracle_node.domain)
    assert status == 0, output + oracle_node.proc.output
    report = json.loads(report_path.read_text())
    assert (report['frames_in'], report['frames_out'], report['dropped']['replay']) == (3, 3, 0)
    assert report['attached'] and report['node_exit_code'] is None
    seg = report['ground_truth']['segmentation']
    assert seg['miou'] == 1.0 and seg['pixel_accuracy'] == 1.0
    assert set(seg['per_class_iou'].values()) == {1.0}
    bpf = report['boxes_per_frame']
    assert bpf['frames_with_boxes_message'] == 3 and bpf['min'] >= 1
    boxes = report['ground_truth']['boxes']
    assert boxes['frames'] == 3 and boxes['expected'] >= 6
    assert boxes['matched'] >= 0.8 * boxes['expected'] and boxes['missed'] <= 2
    # the box estimator on perfect masks and the synthetic RealSense-like depth, 3 scenes at
    # 320x240 (errors over the expected, mostly visible boxes; loose bounds at this resolution)
    assert boxes['center_error_mm']['p50'] < 15.0
    assert boxes['size_error_mm']['p50'] < 60.0
    assert boxes['normal_error_deg']['p50'] < 2.0
    assert boxes['yaw_error_deg']['p50'] < 3.0
    recorded = read_bag(tmp_path / 'rec')
    input_stamps = [stamp(m) for _, m in read_bag(oracle_node.bag)[COLOR]]
    assert [stamp(m) for _, m in recorded[f'{oracle_node.ns}/enet/boxes']] == input_stamps
    assert len(recorded[f'{oracle_node.ns}/enet/markers']) == 3


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_paced_replay_accounts_for_every_frame(oracle_node, tmp_path):
    """--rate: frames published at the recorded timing; in = out + dropped, counters agree."""
    report_path = tmp_path / 'r.json'
    status, output = replay([oracle_node.bag, '--attach', '--namespace', oracle_node.ns,
                             '--rate', '1', '--report', report_path], oracle_node.domain)
    assert status == 0, output
    report = json.loads(report_path.read_text())
    assert report['mode'] == 'rate' and report['frames_in'] == 3
    assert report['frames_out'] + report['dropped']['replay'] == 3
    assert report['frames_out'] >= 1
    node = report['node_counts']  # this run only (the attached node's earlier counts removed)
    assert node['received'] == 3, report
    assert node['processed'] == report['frames_out']
    assert node['dropped'] == report['dropped']['replay']
    assert report['ground_truth']['segmentation']['miou'] == 1.0


# --------------------------------------------------------------------------- real data


@pytest.mark.ros
@pytest.mark.data
@pytest.mark.timeout(600)
@pytest.mark.parametrize('storage,transport', [('mcap', 'raw'), ('sqlite3', 'raw'),
                                               ('mcap', 'compressed')])
def test_neura_bags_masks_and_poses_for_both_frames(storage, transport, shared_data, weights,
                                                    tmp_path):
    """Real rgb8 (or JPEG) + 16UC1 depth + camera_info: both frames answered, stamps kept."""
    bag = shared_data / 'neura_palletizer_bags_derived' / f'neura_palletizer_{storage}'
    if not bag.is_dir():
        pytest.skip(f'{bag} not found')
    report_path, record = tmp_path / 'r.json', tmp_path / 'rec'
    status, output = replay([bag, '--weights', weights, '--fast', '--record', record,
                             '--report', report_path, '--export-frames', tmp_path / 'f',
                             '--transport', transport],
                            domain_id({'mcap': 63, 'sqlite3': 64}[storage]
                                      + (2 if transport == 'compressed' else 0)))
    assert status == 0, output
    report = json.loads(report_path.read_text())
    assert (report['frames_in'], report['frames_out'], report['dropped']['replay']) == (2, 2, 0)
    assert report['inputs']['use_depth'] is True and report['ground_truth'] is None
    assert report['inputs']['transport'] == transport
    input_stamps = [stamp(m) for _, m in read_bag(bag)[COLOR]]
    assert input_stamps == [1_700_000_000_000_000_000, 1_700_000_001_000_000_000]
    recorded = read_bag(record)
    masks = recorded['/enet/mask']
    assert [stamp(m) for _, m in masks] == input_stamps
    assert all((m.width, m.height) == (640, 480) for _, m in masks)
    if report['boxes_per_frame'] is not None:
        boxes = recorded['/enet/boxes']
        assert [stamp(m) for _, m in boxes] == input_stamps
        if SHIPPED.exists():  # the trained model finds the cartons of both scenes
            assert all(len(m.poses) >= 1 for _, m in boxes)


@pytest.mark.ros
@pytest.mark.data
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_camvid_replay_gives_the_evaluate_miou(shared_data, weights_dir, tmp_path):
    """10 CamVid test images: bag-from-images + replay mIoU == enet-ros evaluate mIoU.

    The node and ``evaluate`` may run different CPU kernels (memory format, thread count); their
    float rounding flips the argmax of a few near-tie pixels (measured: mIoU 0.5808247 vs
    0.5808522), so the two agree to 5e-4 (about 0.05% of the pixels), not bit for bit.
    """
    camvid = shared_data / 'camvid_segnet'
    source = weights_dir / 'davidtvs_ENet_CamVid_2018-03-04_state_dict.pth'
    if not camvid.is_dir() or not source.exists():
        pytest.skip('CamVid or the davidtvs checkpoint not found')
    tool = executable('enet-ros')
    ckpt = tmp_path / 'davidtvs.pt'
    run = {'capture_output': True, 'text': True, 'timeout': RUN_TIMEOUT}
    out = subprocess.run([tool, 'convert', str(source), str(ckpt)], **run)
    assert out.returncode == 0, out.stderr
    names = sorted(os.listdir(camvid / 'test'))[:10]
    for split in ('test', 'testannot'):
        (tmp_path / 'cv10' / split).mkdir(parents=True)
        for name in names:
            os.symlink(camvid / split / name, tmp_path / 'cv10' / split / name)
    out = subprocess.run([tool, 'evaluate', '--weights', str(ckpt), '--data',
                          str(tmp_path / 'cv10'), '--split', 'test', '--report',
                          str(tmp_path / 'eval.json')], **run)
    assert out.returncode == 0, out.stderr
    evaluate = json.loads((tmp_path / 'eval.json').read_text())
    out = subprocess.run([tool, 'bag-from-images', str(camvid / 'test'), str(tmp_path / 'bag'),
                          '--labels', str(camvid / 'testannot'), '--classes', 'camvid',
                          '--limit', '10'], **run)
    assert out.returncode == 0, out.stderr
    status, output = replay([tmp_path / 'bag', '--weights', ckpt, '--fast', '--report',
                             tmp_path / 'replay.json'], domain_id(66))
    assert status == 0, output
    report = json.loads((tmp_path / 'replay.json').read_text())
    assert (report['frames_in'], report['frames_out']) == (10, 10)
    seg = report['ground_truth']['segmentation']
    assert seg['mode'] == 'classes' and seg['frames'] == 10 and seg['ignore_index'] == 11
    assert seg['miou'] == pytest.approx(evaluate['miou'], abs=5e-4)
    assert seg['pixel_accuracy'] == pytest.approx(evaluate['pixel_accuracy'], abs=5e-4)
    for name, iou in evaluate['per_class_iou'].items():
        assert seg['per_class_iou'][name] == pytest.approx(iou, abs=5e-3), name
