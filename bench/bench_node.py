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

"""The enet node's overhead per frame, excluding the model: median ms beside the targets.

The node runs its real code path (``EnetNode._on_frame``: message -> RGB, into the one-slot
buffer; then ``EnetNode.process_next``: outputs, message creation, ``publish``) with a stub
segmenter that returns precomputed class ids and confidence, so the model costs nothing. A
subscriber in a second rclpy Context is matched to the outputs being measured (so ``publish``
really serialises and hands the data to DDS; the node computes the overlay only while it has a
subscriber). The subscriber does not spin, so its own decoding is not counted.

Cases: all outputs (mask mono8, confidence mono8, overlay rgb8) subscribed; the same without an
overlay subscriber; and, for reference, a breakdown and other inputs (bgr8, JPEG).

Run: ``.venv/bin/python bench/bench_node.py [--repeat N]`` (targets: 640x480 rgb8 <= 3 ms,
1280x720 <= 6 ms, median, with or without the overlay).
"""

import argparse
import os
import platform
import threading
import time
from types import SimpleNamespace

import cv2
from enet_ros.inference.segmenter import Segmentation
from enet_ros.model.checkpoint import ClassInfo
from enet_ros.ros import dds
from enet_ros.ros.conversions import numpy_to_image
import numpy as np

SIZES = ((640, 480), (1280, 720))
TARGETS_MS = {(640, 480): 3.0, (1280, 720): 6.0}
CLASSES = ClassInfo(names=('background', 'box', 'box_boundary'),
                    colors=((0, 0, 0), (230, 160, 40), (40, 220, 255)))


class PrecomputedSegmenter:
    """Returns the same class ids and confidence for every image (no model)."""

    def __init__(self):
        """Start with no precomputed outputs."""
        self.meta = SimpleNamespace(classes=CLASSES)
        self.outputs = {}

    def prepare(self, height, width, rng):
        """Precompute blob-like class ids and a confidence map for ``height`` x ``width``."""
        small = rng.integers(0, 3, (height // 16 + 1, width // 16 + 1), dtype=np.uint8)
        ids = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
        conf = rng.random((height, width), dtype=np.float32)
        self.outputs[(height, width)] = Segmentation(ids, conf, None, {'model': 0.0})

    def __call__(self, rgb):
        """Return the precomputed result of this image size."""
        return self.outputs[rgb.shape[:2]]


def received(msg, cls):
    """Return the message as a subscription callback gets it (rclpy deserialisation)."""
    from rclpy.serialization import deserialize_message, serialize_message
    return deserialize_message(serialize_message(msg), cls)


def median_ms(func, repeat):
    """Return the median wall time and thread CPU time of ``func()`` in ms (after 5 warm-ups).

    The CPU time (``time.thread_time``) excludes the time the thread waited for a core, which
    on a shared machine can be most of the wall time.
    """
    for _ in range(5):
        func()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        func()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return float(np.median(wall)) * 1e3, float(np.median(cpu)) * 1e3


def wait_until(predicate, timeout=30.0):
    """Wait (re-checking every 20 ms) until predicate() is true; raise on timeout."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError('DDS discovery did not complete')
        tick.wait(0.02)


def main():
    """Run the benchmark and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=200, help='timed frames per case')
    parser.add_argument('--cv-threads', type=int, default=1,
                        help='cv2.setNumThreads (default 1; 0 or less: OpenCV default)')
    args = parser.parse_args()

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(10 + os.getpid() % 80))
    dds.apply_large_image_profile()
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from enet_ros.ros.node import EnetNode

    if args.cv_threads > 0:
        cv2.setNumThreads(args.cv_threads)  # the node shares the CPU with the driver and DDS
    rng = np.random.default_rng(0)
    stub = PrecomputedSegmenter()
    node_context, sub_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=node_context)
    rclpy.init(context=sub_context)
    node = EnetNode(context=node_context, segmenter=stub, start_worker=False,
                    namespace='/bench')
    listener = rclpy.create_node('bench_listener', context=sub_context)
    reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    subscriptions = {}

    def subscribe(name):
        subscriptions[name] = listener.create_subscription(
            Image, f'/bench/enet/{name}', lambda msg: None, reliable)
        pub = {'mask': node._mask_pub, 'confidence': node._confidence_pub,
               'overlay': node._overlay_pub}[name]
        wait_until(lambda: pub.get_subscription_count() > 0)

    def unsubscribe(name):
        listener.destroy_subscription(subscriptions.pop(name))
        wait_until(lambda: node._overlay_pub.get_subscription_count() == 0)

    for name in ('mask', 'confidence', 'overlay'):
        subscribe(name)

    rows = {}
    for width, height in SIZES:
        stub.prepare(height, width, rng)
        rgb = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                               (9, 9), 3)
        rgb_msg = received(numpy_to_image(rgb, 'rgb8'), Image)
        bgr_msg = received(numpy_to_image(np.ascontiguousarray(rgb[..., ::-1]), 'bgr8'), Image)
        jpeg = CompressedImage(format='rgb8; jpeg compressed bgr8', data=cv2.imencode(
            '.jpg', rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        jpeg_msg = received(jpeg, CompressedImage)

        def frame(msg):
            node._on_frame(msg, None)
            assert node.process_next()

        def add(label, value, target=False):
            rows.setdefault(label, {'target': target})[(width, height)] = value

        if 'overlay' not in subscriptions:
            subscribe('overlay')
        add('rgb8, all outputs incl. overlay (total)', median_ms(lambda: frame(rgb_msg),
                                                                 args.repeat), True)
        seg = stub(rgb)
        pipe = node._pipeline
        add('  conversion in (rgb8 view) + slot', median_ms(
            lambda: (node._on_frame(rgb_msg, None), node._slot.take(0)), args.repeat))
        add('  outputs: mono8 confidence + overlay', median_ms(
            lambda: pipe.process(rgb, want_confidence=True, want_overlay=True), args.repeat))
        result = pipe.process(rgb, want_confidence=True, want_overlay=True)
        conv = node._converter
        add('  3 messages created + published', median_ms(lambda: (
            node._mask_pub.publish(conv.to_image_msg(result.class_ids, 'mono8', rgb_msg.header)),
            node._confidence_pub.publish(conv.to_image_msg(result.confidence_image, 'mono8',
                                                           rgb_msg.header)),
            node._overlay_pub.publish(conv.to_image_msg(result.overlay, 'rgb8',
                                                        rgb_msg.header))), args.repeat))
        add('bgr8 input, all outputs', median_ms(lambda: frame(bgr_msg), args.repeat))
        add('JPEG q90 input, all outputs', median_ms(lambda: frame(jpeg_msg), args.repeat))
        unsubscribe('overlay')
        add('rgb8, mask + confidence, no overlay subscriber', median_ms(
            lambda: frame(rgb_msg), args.repeat), True)
        del seg

    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'enet node overhead per frame, model excluded (stub segmenter): median ms over '
          f'{args.repeat} frames (wall / thread CPU); {platform.processor() or "cpu"}, '
          f'{os.cpu_count()} CPUs, load average {load:.1f}, OpenCV {cv2.__version__} '
          f'({cv2.getNumThreads()} threads)')
    print(f'{"":48s} {"640x480 wall":>12s} {"cpu":>6s} {"target":>7s}   '
          f'{"1280x720 wall":>13s} {"cpu":>6s} {"target":>7s}')
    for label, values in rows.items():
        cells = []
        for size in SIZES:
            wall, cpu = values[size]
            target = f'<= {TARGETS_MS[size]:g}' if values['target'] else ''
            cells.append(f'{wall:12.2f} {cpu:6.2f} {target:>7s}')
        print(f'{label:48s} ' + '   '.join(cells))

    node.destroy_node()
    listener.destroy_node()
    rclpy.try_shutdown(context=node_context)
    rclpy.try_shutdown(context=sub_context)


if __name__ == '__main__':
    main()
