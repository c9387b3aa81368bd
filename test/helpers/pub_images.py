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

"""Publish numbered synthetic camera frames, best effort, as a camera driver in its own process.

Used by test/test_dds_large_images.py. The DDS configuration (profile file, domain id, discovery
range) comes from the environment the parent passes. Protocol on stdout, one line each:
``READY``, ``MATCHED <n>`` (subscriptions matched), ``PUBLISHED <i> <nbytes>``, ``DONE <count>``,
or ``ERROR <reason>`` (exit status 2). After ``DONE`` the process keeps its participant alive
until a line arrives on stdin (or stdin closes, or ``--linger`` seconds pass), so that frames
still in flight in its shared-memory segment are not torn down early.

Frame ``i`` has ``header.frame_id == 'frame_<i>'`` and pixel bytes ``(k + i) % 251`` for
``k = 0 .. step*height-1``; :func:`frame_bytes` builds the same reference for the reader.
"""

import argparse
import sys
import threading

import numpy as np


def frame_bytes(index, nbytes):
    """Return the pixel bytes of frame ``index``.

    Args:
        index: Frame number, 0-based.
        nbytes: Number of bytes (step x height).

    Returns:
        uint8 array of shape (nbytes,): ``(k + index) % 251``.
    """
    return ((np.arange(nbytes, dtype=np.int64) + index) % 251).astype(np.uint8)


def main(argv=None):
    """Parse arguments, wait for a subscriber, publish the frames, linger, exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--topic', default='image')
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--count', type=int, default=10)
    parser.add_argument('--rate', type=float, default=5.0, help='frames per second')
    parser.add_argument('--min-subscribers', type=int, default=1)
    parser.add_argument('--match-timeout', type=float, default=30.0, help='seconds')
    parser.add_argument('--linger', type=float, default=30.0, help='seconds after DONE')
    args = parser.parse_args(argv)

    import rclpy
    from rclpy.event_handler import PublisherEventCallbacks
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from enet_ros.ros.conversions import numpy_to_image

    rclpy.init(args=None)
    node = rclpy.create_node('enet_ros_test_image_publisher')
    matched = threading.Event()

    def on_matched(info):
        if info.current_count >= args.min_subscribers:
            matched.set()

    publisher = node.create_publisher(
        Image, args.topic, qos_profile_sensor_data,
        event_callbacks=PublisherEventCallbacks(matched=on_matched))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)

    deadline = node.get_clock().now().nanoseconds + int(args.match_timeout * 1e9)
    while not matched.is_set() and node.get_clock().now().nanoseconds < deadline:
        if publisher.get_subscription_count() >= args.min_subscribers:
            matched.set()
            break
        executor.spin_once(timeout_sec=0.1)
    if not matched.is_set():
        print(f'ERROR no subscriber matched within {args.match_timeout} s', flush=True)
        return 2
    print(f'MATCHED {publisher.get_subscription_count()}', flush=True)

    shape = (args.height, args.width, 3)
    nbytes = args.height * args.width * 3
    published = []

    def publish_next():
        index = len(published)
        if index >= args.count:
            return
        pixels = frame_bytes(index, nbytes).reshape(shape)
        msg = numpy_to_image(pixels, 'rgb8')
        msg.header.frame_id = f'frame_{index}'
        msg.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(msg)
        published.append(index)
        print(f'PUBLISHED {index} {len(msg.data)}', flush=True)

    publish_next()
    timer = node.create_timer(1.0 / args.rate, publish_next)
    while len(published) < args.count:
        executor.spin_once(timeout_sec=1.0)
    node.destroy_timer(timer)
    print(f'DONE {len(published)}', flush=True)

    released = threading.Event()

    def wait_stdin():
        sys.stdin.readline()
        released.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    released.wait(timeout=args.linger)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
