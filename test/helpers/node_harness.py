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

"""Test harness for the enet node over real DDS (used by test/test_node*.py and bench/).

:class:`Harness` starts an :class:`~enet_ros.ros.node.EnetNode` in its own rclpy ``Context`` and
a client node (publishers, subscriptions, parameter client) in a second ``Context`` on the same
domain, each spun by a ``SingleThreadedExecutor`` in its own thread, so every message crosses
DDS between two participants. Waits are on events and conditions with timeouts.
"""

import os
import threading
import time

from enet_ros.ros import dds
import numpy as np
import pytest


def large_image_ros_environment():
    """Yield with localhost discovery and the large-image Fast DDS profile set (pytest fixtures).

    Used as a module-scoped autouse fixture by the node, node-CLI and box tests so that this
    process's participants (and the nodes they start) use the shipped profile.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        profile = str(dds.find_config_file(dds.FASTDDS_PROFILE_FILE))
        for var in dds.FASTDDS_PROFILE_ENV_VARS:
            mp.setenv(var, profile)
        yield


def domain_id(offset):
    """Return a ROS domain id for this process and test (offset), in 10..99."""
    return 10 + (os.getpid() * 7 + 41 + offset * 13) % 90


def wait_until(predicate, timeout, poll=0.02):
    """Wait until ``predicate()`` is true; return its final truth value.

    For state that has no event to wait on (e.g. a publisher's match count as seen from the
    other participant); it re-checks every ``poll`` seconds up to ``timeout``.
    """
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bool(predicate())
        tick.wait(min(poll, remaining))
    return True


def make_image(array, encoding, frame_id='camera', stamp_ns=0, pad=0, big_endian=False):
    """Build a sensor_msgs/Image by hand (row padding and byte order as asked).

    Args:
        array: (H, W) or (H, W, C) pixels in host byte order.
        encoding: The ROS encoding to write.
        frame_id: header.frame_id.
        stamp_ns: header.stamp in nanoseconds.
        pad: Extra bytes at the end of every row (step = row bytes + pad).
        big_endian: Store multi-byte values big-endian and set is_bigendian.

    Returns:
        The Image message.
    """
    from sensor_msgs.msg import Image
    array = np.ascontiguousarray(array)
    if big_endian and array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder('>'))
    h, w = array.shape[:2]
    rows = array.reshape(h, -1).view(np.uint8)
    if pad:
        rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    msg = Image()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    msg.height, msg.width, msg.encoding = h, w, encoding
    msg.is_bigendian = int(bool(big_endian and array.dtype.itemsize > 1))
    msg.step = rows.shape[1]
    msg.data = rows.tobytes()
    return msg


class Collector:
    """Subscription callback that keeps ``(receive_time_ns, msg)`` and wakes waiters."""

    def __init__(self):
        """Start empty; ``matched`` is set when the subscription matches a publisher."""
        self.items = []
        self.cond = threading.Condition()
        self.matched = threading.Event()

    def __call__(self, msg):
        """Store a message (executor thread)."""
        now = time.time_ns()
        with self.cond:
            self.items.append((now, msg))
            self.cond.notify_all()

    @property
    def msgs(self):
        """Return the messages received so far."""
        with self.cond:
            return [m for _, m in self.items]

    def wait_for(self, predicate, timeout):
        """Wait until ``predicate(messages)`` is true; return whether it became true."""
        with self.cond:
            return self.cond.wait_for(lambda: predicate([m for _, m in self.items]), timeout)

    def wait_frame(self, frame_id, timeout):
        """Return the first message whose header.frame_id is ``frame_id``, or None."""
        found = []

        def check(msgs):
            found[:] = [m for m in msgs if m.header.frame_id == frame_id]
            return bool(found)

        return found[0] if self.wait_for(check, timeout) else None


class Harness:
    """An enet node and a client node in two contexts on one domain, spinning in threads.

    Args:
        domain: ROS domain id.
        overrides: Parameter overrides of the enet node ``{name: value}``.
        namespace: Namespace of both nodes.
        segmenter: Passed to the node (a stub), or None to load ``weights``.
        node_cls: The node class (a subclass that records the box hook, in tests).
        cli_args: ``['--ros-args', '-r', ...]`` for the enet node (remaps), or None.
    """

    def __init__(self, domain, overrides=None, namespace='/enet_test', segmenter=None,
                 node_cls=None, cli_args=None):
        """Start both contexts, nodes and executor threads."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter

        from enet_ros.ros.node import EnetNode

        self._rclpy = rclpy
        self.namespace = namespace
        self.node = self.client = None
        self._executors, self._threads = [], []
        self.node_context, self.client_context = rclpy.Context(), rclpy.Context()
        rclpy.init(context=self.node_context, domain_id=domain)
        rclpy.init(context=self.client_context, domain_id=domain)
        try:
            overrides = dict(overrides or {})
            self.node = (node_cls or EnetNode)(
                context=self.node_context, namespace=namespace, segmenter=segmenter,
                cli_args=cli_args,
                parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
            self.client = rclpy.create_node('enet_test_client', namespace=namespace,
                                            context=self.client_context)
            for node, context in ((self.node, self.node_context),
                                  (self.client, self.client_context)):
                executor = SingleThreadedExecutor(context=context)
                executor.add_node(node)
                thread = threading.Thread(target=executor.spin, daemon=True)
                thread.start()
                self._executors.append(executor)
                self._threads.append(thread)
        except BaseException:
            self.close()
            raise

    @property
    def node_ns(self):
        """Return the enet node's private namespace, e.g. '/enet_test/enet'."""
        return self.node.get_fully_qualified_name()

    def subscribe(self, topic, msg_type=None, qos=None):
        """Subscribe the client node; return a :class:`Collector` (``matched``: set on match)."""
        from rclpy.event_handler import SubscriptionEventCallbacks
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        collector = Collector()
        qos = qos or QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        collector.subscription = self.client.create_subscription(
            msg_type or Image, topic, collector, qos,
            event_callbacks=SubscriptionEventCallbacks(
                matched=lambda info: collector.matched.set() if info.current_count else None))
        return collector

    def publisher(self, topic, msg_type=None, reliable=False, depth=10):
        """Create a client publisher; return it with ``.matched`` (an Event set on match)."""
        from rclpy.event_handler import PublisherEventCallbacks
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        matched = threading.Event()
        qos = (QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE) if reliable
               else qos_profile_sensor_data)
        pub = self.client.create_publisher(
            msg_type or Image, topic, qos,
            event_callbacks=PublisherEventCallbacks(
                matched=lambda info: matched.set() if info.current_count else None))
        pub.matched = matched
        return pub

    def outputs(self, names=('mask', 'confidence', 'overlay'), timeout=30.0):
        """Subscribe to the node's image outputs and wait until the node sees each subscriber."""
        collectors = {name: self.subscribe(f'{self.node_ns}/{name}') for name in names}
        publishers = {'mask': self.node._mask_pub, 'confidence': self.node._confidence_pub,
                      'overlay': self.node._overlay_pub}
        for name, collector in collectors.items():
            assert collector.matched.wait(timeout), f'{name}: no match'
            assert wait_until(lambda: publishers[name].get_subscription_count() > 0, timeout)
        return collectors

    def close(self):
        """Stop the executors, destroy the nodes, shut the contexts down."""
        for executor in self._executors:
            executor.shutdown(timeout_sec=5.0)
        for node in (self.node, self.client):
            if node is not None:
                node.destroy_node()
        for thread in self._threads:
            thread.join(timeout=10.0)
        for context in (self.client_context, self.node_context):
            self._rclpy.try_shutdown(context=context)

    def __enter__(self):
        """Return self."""
        return self

    def __exit__(self, *exc):
        """Close."""
        self.close()


class NodeProcess:
    """A node started as a subprocess, with its combined output read line by line in a thread."""

    def __init__(self, argv, env, cwd):
        """Start ``argv``; stdout and stderr are merged."""
        import queue
        import subprocess
        self._queue = queue.Queue()
        self.lines = []
        self.process = subprocess.Popen(argv, env=env, cwd=str(cwd), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def wait_for(self, text, timeout):
        """Return the first output line containing ``text``, or None (timeout or exit)."""
        import queue
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                self._queue.put(None)  # keep reporting the end
                return None
            self.lines.append(line)
            if text in line:
                return line
        return None

    def wait_exit(self, timeout):
        """Wait for the process to end (reading all its output); return its exit status."""
        import subprocess
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait(timeout=10)
        self.wait_for('\0', 5.0)  # drain the output
        return status

    def interrupt(self, timeout=30.0):
        """Send SIGINT (what Ctrl-C and launch do) and return the exit status."""
        import signal
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait_exit(timeout)

    @property
    def output(self):
        """Return the output read so far as one string."""
        return '\n'.join(self.lines)
