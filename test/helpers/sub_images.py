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

"""Count the frames of test/helpers/pub_images.py that arrive intact, in a process of its own.

Used by test/test_dds_large_images.py where the subscriber's DDS configuration must differ from
the test process's (Fast DDS reads its profile once per process). Protocol on stdout:
``READY``, ``MATCHED <n>`` (publishers matched), ``RECEIVED <i> ok|bad``. It stops at the first
line on stdin (or when stdin closes, or after ``--timeout`` seconds) and prints
``TOTAL <intact frames>``.
"""

import argparse
import os
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pub_images import frame_bytes  # noqa: E402,I100 - sibling helper script


def main(argv=None):
    """Subscribe, report frames until told to stop, print the total."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--topic', default='image')
    parser.add_argument('--timeout', type=float, default=60.0, help='seconds')
    args = parser.parse_args(argv)

    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    rclpy.init(args=None)
    node = rclpy.create_node('enet_ros_test_image_subscriber')
    intact = set()

    def on_image(msg):
        index = int(msg.header.frame_id.rsplit('_', 1)[1])
        data = np.frombuffer(msg.data, dtype=np.uint8)
        ok = (msg.encoding == 'rgb8' and data.size == msg.step * msg.height
              and np.array_equal(data, frame_bytes(index, data.size)))
        if ok:
            intact.add(index)
        print(f'RECEIVED {index} {"ok" if ok else "bad"}', flush=True)

    def on_matched(info):
        print(f'MATCHED {info.current_count}', flush=True)

    node.create_subscription(
        Image, args.topic, on_image, qos_profile_sensor_data,
        event_callbacks=SubscriptionEventCallbacks(matched=on_matched))
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    stop = threading.Event()

    def wait_stdin():
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    timer = threading.Timer(args.timeout, stop.set)
    timer.daemon = True
    timer.start()
    print('READY', flush=True)
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.1)
    print(f'TOTAL {len(intact)}', flush=True)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
