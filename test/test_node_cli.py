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

"""The node as its own process: both entry points, ``--ros-args``, and each shipped config file.

``enet-ros node`` and ``enet_node`` (what ``ros2 run enet_ros enet_node`` runs) are started as
subprocesses with ``--ros-args --params-file config/<file>.yaml`` (what launch does); this
process talks to them over DDS from its own Context.

The Jetson files select the TensorRT backend on CUDA. Where ``tensorrt`` does not import (this
CPU machine) the node must stop at start-up with an error naming tensorrt; with
``-p backend:=torch -p device:=cpu -p precision:=fp32`` after the file it must come up with the
file's other values (fixed 640x480 / 480x360 network input, stretch resize).
"""

import argparse
import importlib.util
import os
from pathlib import Path
import sys

from enet_ros.cli import node as cli_node
from enet_ros.model.checkpoint import CheckpointMeta, ClassInfo, Preprocessing, save_checkpoint
from enet_ros.model.enet import ENet, ENetArch
from enet_ros.ros import dds
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO_ROOT / 'test' / 'helpers'))
from node_harness import (domain_id, large_image_ros_environment,  # noqa: E402,I100
                          make_image, NodeProcess)

CLASSES = ClassInfo(names=('background', 'box', 'box_boundary'),
                    colors=((0, 0, 0), (230, 160, 40), (40, 220, 255)))
START_TIMEOUT = 90.0


# --------------------------------------------------------------------------- argument handling


def parse(argv):
    """Parse ``enet-ros node`` arguments as enet_ros.cli.main does."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--log-level', default='INFO')
    cli_node.add_arguments(parser)
    args, extra = parser.parse_known_args(argv)
    args.extra_args = extra
    return args


def test_cli_passes_ros_args_to_rclpy_unchanged():
    """Cli passes ros args to rclpy unchanged."""
    assert cli_node.PASS_UNKNOWN_ARGS is True
    args = parse(['--ros-args', '-p', 'weights:=a.pt', '--log-level', 'debug',
                  '--params-file', 'x.yaml', '-r', '__ns:=/r1'])
    assert args.log_level == 'INFO'  # enet-ros's own option is not taken from the ROS section
    assert cli_node.ros_argv(args) == ['enet-ros node', '--ros-args', '-p', 'weights:=a.pt',
                                       '--log-level', 'debug', '--params-file', 'x.yaml',
                                       '-r', '__ns:=/r1']


def test_cli_shorthands_and_their_order():
    """Cli shorthands and their order."""
    args = parse(['--weights', 'w.pt', '--params-file', 'a.yaml', '--params-file', 'b.yaml',
                  '--ros-args', '-p', 'overlay_alpha:=0.3'])
    # files first (later sources win in rcl), --weights last
    assert cli_node.ros_argv(args) == ['enet-ros node', '--ros-args', '--params-file', 'a.yaml',
                                       '--params-file', 'b.yaml', '-p', 'overlay_alpha:=0.3',
                                       '-p', 'weights:=w.pt']
    assert cli_node.ros_argv(parse([])) == ['enet-ros node']


# --------------------------------------------------------------------------- processes

pytest_ros = pytest.mark.ros


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Return a tiny random-weight 3-class checkpoint."""
    import torch
    torch.manual_seed(0)
    arch = ENetArch(num_classes=3)
    path = tmp_path_factory.mktemp('enet_cli') / 'tiny.pt'
    save_checkpoint(path, ENet(arch), CheckpointMeta(
        arch, CLASSES, Preprocessing(resolution=None, resize_policy='native')))
    return path


ros_environment = pytest.fixture(scope='module', autouse=True)(large_image_ros_environment)


def child_env(domain):
    """Return a node subprocess's environment (its own domain, localhost discovery)."""
    env = {k: v for k, v in os.environ.items() if k not in dds.FASTDDS_PROFILE_ENV_VARS}
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    return env  # the node applies the large-image profile itself, before rclpy.init


def executable(name):
    """Return the venv's console script ``name``, or skip."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f'{path} not installed (pip install -e .)')
    return str(path)


class Client:
    """A client node in its own Context on ``domain``, spun in a thread."""

    def __init__(self, domain):
        """Create and start spinning the client node."""
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('enet_cli_test_client', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def label_info(self, topic, timeout=START_TIMEOUT):
        """Wait for the node's latched label_info; return it or None."""
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String

        from enet_ros.ros.node import label_info_types
        sys.path.insert(0, str(REPO_ROOT / 'test' / 'helpers'))
        from node_harness import Collector
        types = label_info_types()
        collector = Collector()
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(types[0] if types else String, topic, collector, qos)
        return collector.msgs[0] if collector.wait_for(lambda m: m, timeout) else None

    def close(self):
        """Stop spinning and shut the context down."""
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        self.thread.join(timeout=10)
        self.rclpy.try_shutdown(context=self.context)


def round_trip(client, node_ns, image_topic, shape, timeout=START_TIMEOUT):
    """Publish one rgb8 frame to a node process; return the mask message (or None)."""
    import threading

    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from node_harness import Collector
    reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    masks = Collector()
    client.node.create_subscription(
        Image, f'{node_ns}/mask', masks, reliable,
        event_callbacks=SubscriptionEventCallbacks(matched=lambda i: masks.matched.set()))
    matched = threading.Event()
    pub = client.node.create_publisher(
        Image, image_topic, reliable,
        event_callbacks=PublisherEventCallbacks(matched=lambda i: matched.set()))
    assert masks.matched.wait(timeout) and matched.wait(timeout)
    rgb = np.random.default_rng(0).integers(0, 256, shape + (3,), dtype=np.uint8)
    msg = make_image(rgb, 'rgb8', 'cli_frame', 1_700_000_000_000_000_007)
    # the node may see this subscriber a moment after this process sees the node: resend
    for _ in range(int(timeout)):
        pub.publish(msg)
        got = masks.wait_frame('cli_frame', 1.0)
        if got is not None:
            assert got.header == msg.header
            return got
    return None


@pytest_ros
@pytest.mark.timeout(300)
def test_enet_node_entry_point_round_trip_at_640x480(checkpoint, tmp_path):
    """``ros2 run enet_ros enet_node --ros-args ...`` with remaps; a VGA frame across processes."""
    pytest.importorskip('rclpy')
    domain = domain_id(20)
    ns = f'/cli_{os.getpid()}'
    proc = NodeProcess([executable('enet_node'), '--ros-args', '-p', f'weights:={checkpoint}',
                        '-p', 'num_threads:=1', '-r', f'__ns:={ns}',
                        '-r', 'image:=/camera/color/image_raw'], child_env(domain), tmp_path)
    client = Client(domain)
    try:
        assert proc.wait_for('DDS:', START_TIMEOUT), proc.output
        assert 'fastdds_large_images.xml' in proc.wait_for('DDS:', 1)
        assert 'input: /camera/color/image_raw (Image)' in proc.output
        mask = round_trip(client, f'{ns}/enet', '/camera/color/image_raw', (480, 640))
        assert mask is not None, proc.output
        assert (mask.height, mask.width, mask.encoding) == (480, 640, 'mono8')
        assert proc.interrupt() == 0, proc.output
        assert 'Traceback' not in proc.output, proc.output
    finally:
        client.close()
        if proc.process.poll() is None:
            proc.interrupt()


@pytest_ros
@pytest.mark.timeout(300)
def test_enet_ros_node_starts_with_config_enet_yaml(checkpoint, tmp_path):
    """Enet ros node starts with config enet yaml."""
    pytest.importorskip('rclpy')
    domain = domain_id(21)
    ns = f'/cli_{os.getpid()}_enet'
    proc = NodeProcess([executable('enet-ros'), 'node', '--ros-args', '--params-file',
                        str(REPO_ROOT / 'config' / 'enet.yaml'), '-p', f'weights:={checkpoint}',
                        '-p', 'num_threads:=1', '-r', f'__ns:={ns}'], child_env(domain),
                       tmp_path)
    client = Client(domain)
    try:
        label_info = client.label_info(f'{ns}/enet/label_info')
        assert label_info is not None, proc.output
        assert proc.wait_for('DDS:', 10), proc.output
        assert proc.interrupt() == 0, proc.output
    finally:
        client.close()
        if proc.process.poll() is None:
            proc.interrupt()


def tensorrt_importable():
    """Return True where the tensorrt Python package imports."""
    return importlib.util.find_spec('tensorrt') is not None


@pytest_ros
@pytest.mark.timeout(300)
@pytest.mark.parametrize('board', ['orin', 'nano'])
def test_jetson_config_without_tensorrt_fails_naming_it(board, checkpoint, tmp_path):
    """Jetson config without tensorrt fails naming it."""
    if tensorrt_importable():
        pytest.skip('tensorrt imports here: the Jetson file can start for real')
    domain = domain_id(22)
    proc = NodeProcess([executable('enet-ros'), 'node', '--ros-args', '--params-file',
                        str(REPO_ROOT / 'config' / f'jetson_{board}.yaml'),
                        '-p', f'weights:={checkpoint}'], child_env(domain), tmp_path)
    status = proc.wait_exit(START_TIMEOUT)
    assert status == 1, proc.output
    fatal = [line for line in proc.lines if 'cannot start' in line]
    assert fatal and 'tensorrt' in fatal[0], proc.output


@pytest_ros
@pytest.mark.timeout(300)
@pytest.mark.parametrize('board,size', [('orin', [640, 480]), ('nano', [480, 360])])
def test_jetson_config_comes_up_with_the_backend_overridden(board, size, checkpoint, tmp_path):
    """Jetson config comes up with the backend overridden."""
    pytest.importorskip('rclpy')
    domain = domain_id(23 if board == 'orin' else 24)
    ns = f'/cli_{os.getpid()}_{board}'
    proc = NodeProcess([executable('enet-ros'), 'node',
                        '--params-file', str(REPO_ROOT / 'config' / f'jetson_{board}.yaml'),
                        '--weights', str(checkpoint),
                        '--ros-args', '-p', 'backend:=torch', '-p', 'device:=cpu',
                        '-p', 'precision:=fp32', '-p', 'num_threads:=1',
                        '-r', f'__ns:={ns}'], child_env(domain), tmp_path)
    client = Client(domain)
    try:
        assert proc.wait_for('DDS:', START_TIMEOUT), proc.output
        assert f'resolution: {size}' in proc.output and "resize_policy: 'stretch'" in proc.output
        assert 'engine_cache_dir: ' in proc.output
        mask = round_trip(client, f'{ns}/enet', f'{ns}/image', (50, 70))
        assert mask is not None, proc.output
        assert (mask.height, mask.width) == (50, 70)  # back at the input size
        assert proc.interrupt() == 0, proc.output
    finally:
        client.close()
        if proc.process.poll() is None:
            proc.interrupt()


@pytest_ros
@pytest.mark.timeout(120)
def test_missing_default_weights_fail_with_the_path_and_the_fix(tmp_path):
    """Missing default weights fail with the path and the fix."""
    default = REPO_ROOT / 'models' / 'enet_boxes.pt'
    if default.exists():
        pytest.skip(f'{default} exists: the default model loads (resolve_weights is unit-tested)')
    proc = NodeProcess([executable('enet-ros'), 'node'], child_env(domain_id(25)), tmp_path)
    assert proc.wait_exit(START_TIMEOUT) == 1, proc.output
    assert 'models/enet_boxes.pt' in proc.output and 'weights:=' in proc.output
