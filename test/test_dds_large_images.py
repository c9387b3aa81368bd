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

"""Large camera images between two processes over real DDS, with and without the shipped profile.

The publisher is a separate process (test/helpers/pub_images.py, standing in for a camera
driver). Fast DDS reads its profile file once per process, when the first participant is
created; what decides delivery is the PUBLISHING process's shared-memory segment (the writer
puts every fragment of a frame in its own segment), so the with-profile test holds whatever
participants this pytest process created before. The without-profile measurement runs both ends
in fresh processes and only reports its numbers (they vary from run to run).
"""

import os
from pathlib import Path
import queue
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree

from enet_ros.ros import dds
import numpy as np
import pytest

pytestmark = pytest.mark.ros

REPO_ROOT = Path(__file__).resolve().parents[1]
HELPERS = REPO_ROOT / 'test' / 'helpers'
sys.path.insert(0, str(HELPERS))
from pub_images import frame_bytes  # noqa: E402,I100 - helper script beside the tests

FRAMES = 10
RATE_HZ = 5.0
PROFILE_VARS = dds.FASTDDS_PROFILE_ENV_VARS
FASTDDS_NS = '{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}'


def domain_id(offset):
    """Return a ROS domain id for this test run, distinct per test (offset) and likely per pid."""
    return 10 + (os.getpid() * 7 + offset * 23) % 90


# --------------------------------------------------------------------------- environment logic


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """Return a base environment without any DDS configuration; work in an empty directory."""
    monkeypatch.chdir(tmp_path)  # no DEFAULT_FASTRTPS_PROFILES.xml here
    env = {k: v for k, v in os.environ.items()
           if k not in PROFILE_VARS + dds.FASTDDS_USER_TRANSPORT_ENV_VARS
           + (dds.CYCLONEDDS_ENV_VAR, dds.OPT_OUT_ENV_VAR, 'RMW_IMPLEMENTATION')}
    return env


def test_shipped_fastdds_profile_has_a_64mb_shm_segment_and_is_the_default():
    path = dds.find_config_file(dds.FASTDDS_PROFILE_FILE)
    root = ElementTree.parse(path).getroot()
    descriptors = {d.findtext(f'{FASTDDS_NS}transport_id'): d
                   for d in root.iter(f'{FASTDDS_NS}transport_descriptor')}
    types = {name: d.findtext(f'{FASTDDS_NS}type') for name, d in descriptors.items()}
    assert sorted(types.values()) == ['SHM', 'UDPv4']
    shm = next(d for d in descriptors.values() if d.findtext(f'{FASTDDS_NS}type') == 'SHM')
    assert int(shm.findtext(f'{FASTDDS_NS}segment_size')) == 64 * 1024 * 1024
    participant = root.find(f'.//{FASTDDS_NS}participant')
    assert participant.get('is_default_profile') == 'true'
    assert participant.findtext(f'.//{FASTDDS_NS}useBuiltinTransports') == 'false'
    used = [t.text for t in participant.iter(f'{FASTDDS_NS}transport_id')]
    assert sorted(used) == sorted(descriptors)
    ElementTree.parse(dds.find_config_file(dds.CYCLONEDDS_CONFIG_FILE))  # well-formed


def test_apply_sets_both_fastdds_variables(clean_env):
    path = dds.apply_large_image_profile(clean_env)
    assert path == str(dds.find_config_file(dds.FASTDDS_PROFILE_FILE))
    assert Path(path).is_absolute() and Path(path).is_file()
    assert all(clean_env[var] == path for var in PROFILE_VARS)
    assert 'fastdds_large_images.xml' in dds.describe_dds_configuration(clean_env)


@pytest.mark.parametrize('var', PROFILE_VARS + ('FASTDDS_BUILTIN_TRANSPORTS',))
def test_apply_keeps_the_users_fastdds_setting(clean_env, var):
    clean_env[var] = '/somewhere/my_profile.xml'
    before = dict(clean_env)
    assert dds.apply_large_image_profile(clean_env) is None
    assert clean_env == before


def test_apply_keeps_a_default_profile_file_in_the_working_directory(clean_env, tmp_path):
    (tmp_path / 'DEFAULT_FASTRTPS_PROFILES.xml').write_text('<dds/>')
    assert dds.apply_large_image_profile(clean_env) is None
    assert not any(var in clean_env for var in PROFILE_VARS)


def test_apply_for_cyclonedds_sets_a_file_uri_unless_set(clean_env):
    clean_env['RMW_IMPLEMENTATION'] = 'rmw_cyclonedds_cpp'
    path = dds.apply_large_image_profile(clean_env)
    assert path.endswith('cyclonedds_large_images.xml')
    assert clean_env['CYCLONEDDS_URI'] == Path(path).as_uri()
    assert not any(var in clean_env for var in PROFILE_VARS)
    clean_env['CYCLONEDDS_URI'] = 'file:///mine.xml'
    assert dds.apply_large_image_profile(clean_env) is None
    assert clean_env['CYCLONEDDS_URI'] == 'file:///mine.xml'


def test_apply_leaves_other_rmws_and_opt_out_alone(clean_env):
    clean_env['RMW_IMPLEMENTATION'] = 'rmw_zenoh_cpp'
    assert dds.apply_large_image_profile(clean_env) is None
    del clean_env['RMW_IMPLEMENTATION']
    clean_env['ENET_ROS_LARGE_IMAGE_PROFILE'] = '0'
    assert dds.apply_large_image_profile(clean_env) is None
    assert not any(var in clean_env for var in PROFILE_VARS)


def test_large_image_env_returns_a_copy(clean_env, monkeypatch):
    for var in PROFILE_VARS:
        monkeypatch.delenv(var, raising=False)
    env = dds.large_image_env(clean_env)
    assert env is not clean_env and PROFILE_VARS[0] in env
    assert PROFILE_VARS[0] not in clean_env and PROFILE_VARS[0] not in os.environ
    assert dds.large_image_env_vars(clean_env) == {var: env[var] for var in PROFILE_VARS}
    clean_env[PROFILE_VARS[0]] = '/mine.xml'
    assert dds.large_image_env_vars(clean_env) == {}


# --------------------------------------------------------------------------- cross-process


class LineReader:
    """Collect a child process's stdout lines in a queue, read by a thread."""

    def __init__(self, process):
        """Start reading ``process.stdout`` (text mode) in a daemon thread."""
        self.process = process
        self.lines = []
        self._queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def next_line(self, timeout):
        """Return the next line, or None on timeout / end of output."""
        try:
            line = self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def wait_for(self, prefix, timeout, idle=None):
        """Return the first line starting with prefix within timeout; call idle() between."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.next_line(0.05 if idle else deadline - time.monotonic())
            if line is not None and line.startswith(prefix):
                return line
            if line is None and self.process.poll() is not None and self._queue.empty():
                return None
            if idle:
                idle()
        return None

    def release(self):
        """Tell the child to finish (one stdin line) and wait for it."""
        try:
            self.process.stdin.write('stop\n')
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


def child_env(domain, with_profile):
    """Return a helper process's environment: own domain, localhost discovery, profile or not."""
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARS}
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get('PYTHONPATH', '')]))
    env.pop('RMW_IMPLEMENTATION', None)
    if with_profile:
        env.pop(dds.OPT_OUT_ENV_VAR, None)
        assert dds.apply_large_image_profile(env) is not None
    return env


def start_helper(script, args, env, cwd):
    """Start test/helpers/<script> and return its LineReader."""
    process = subprocess.Popen(
        [sys.executable, str(HELPERS / script), *args], env=env, cwd=str(cwd),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return LineReader(process)


def start_publisher(width, height, env, cwd):
    """Start the camera-driver stand-in publishing FRAMES rgb8 frames at RATE_HZ."""
    return start_helper('pub_images.py', ['--width', str(width), '--height', str(height),
                                          '--count', str(FRAMES), '--rate', str(RATE_HZ)],
                        env, cwd)


def report(capsys, record_property, text):
    """Show a measurement in the terminal (even under -q) and in the JUnit XML."""
    record_property('delivery', text)
    with capsys.disabled():
        print(f'\n[dds large images] {text}')


@pytest.mark.timeout(120)
@pytest.mark.parametrize('width,height', [(1280, 720), (640, 480)])
def test_cross_process_delivery_with_profile(width, height, tmp_path, monkeypatch, capsys,
                                             record_property):
    rclpy = pytest.importorskip('rclpy')
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from enet_ros.ros.conversions import image_to_numpy

    domain = domain_id(0 if width == 1280 else 1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    for var in PROFILE_VARS:  # this process too, in case it creates its first participant here
        monkeypatch.setenv(var, str(dds.find_config_file(dds.FASTDDS_PROFILE_FILE)))

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    publisher = None
    try:
        node = rclpy.create_node('large_image_listener', context=context)
        intact, bad, matched = set(), [], threading.Event()

        def on_image(msg):
            index = int(msg.header.frame_id.rsplit('_', 1)[1])
            pixels, info = image_to_numpy(msg)
            expected = frame_bytes(index, height * width * 3).reshape(height, width, 3)
            if info.name == 'rgb8' and np.array_equal(pixels, expected):
                intact.add(index)
            else:
                bad.append(index)

        node.create_subscription(
            Image, 'image', on_image, qos_profile_sensor_data,
            event_callbacks=SubscriptionEventCallbacks(matched=lambda info: matched.set()))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)

        def spin():
            executor.spin_once(timeout_sec=0.02)

        publisher = start_publisher(width, height, child_env(domain, True), tmp_path)
        assert publisher.wait_for('MATCHED', 30, idle=spin), publisher.lines
        assert publisher.wait_for('DONE', FRAMES / RATE_HZ + 20, idle=spin), publisher.lines
        deadline = time.monotonic() + 5.0  # frames still in flight after the last publish
        while len(intact) + len(bad) < FRAMES and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert matched.is_set()
        assert publisher.release() == 0, publisher.lines
        # Fast DDS reports profile problems as '[XMLPARSER Error]' / '[XMLPROFILEMANAGER ...]'.
        assert not any('XMLP' in line for line in publisher.lines), publisher.lines
        report(capsys, record_property,
               f'{width}x{height} rgb8 at {RATE_HZ:g} Hz, shipped profile: {len(intact)} of '
               f'{FRAMES} intact ({len(bad)} corrupted)')
        assert not bad
        assert len(intact) >= FRAMES - 1
        executor.shutdown()
        node.destroy_node()
    finally:
        if publisher is not None and publisher.process.poll() is None:
            publisher.release()
        rclpy.try_shutdown(context=context)


@pytest.mark.timeout(180)
def test_report_default_transport_without_profile(tmp_path, capsys, record_property):
    """Measure (not assert) delivery with Fast DDS defaults in both processes."""
    pytest.importorskip('rclpy')
    results = []
    for offset, (width, height) in enumerate([(1280, 720), (640, 480)]):
        env = child_env(domain_id(2 + offset), with_profile=False)
        subscriber = start_helper('sub_images.py', ['--timeout', '90'], env, tmp_path)
        publisher = None
        try:
            assert subscriber.wait_for('READY', 30), subscriber.lines
            publisher = start_publisher(width, height, env, tmp_path)
            assert publisher.wait_for('MATCHED', 30), publisher.lines
            assert publisher.wait_for('DONE', FRAMES / RATE_HZ + 20), publisher.lines
            received = sum(line.startswith('RECEIVED') for line in subscriber.lines)
            deadline = time.monotonic() + 5.0
            while received < FRAMES and time.monotonic() < deadline:
                if subscriber.wait_for('RECEIVED', deadline - time.monotonic()):
                    received += 1
            subscriber.process.stdin.write('stop\n')
            subscriber.process.stdin.flush()
            total = subscriber.wait_for('TOTAL', 20)
            assert total is not None, subscriber.lines
            results.append(f'{width}x{height}: {int(total.split()[1])} of {FRAMES}')
        finally:
            subscriber.release()
            if publisher is not None:
                publisher.release()
    report(capsys, record_property,
           f'rgb8 at {RATE_HZ:g} Hz, Fast DDS defaults (no profile): ' + ', '.join(results))
