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

"""QoS profiles of the ``enet`` node's topics.

* Inputs (image, depth, camera_info): the sensor-data profile (best effort, keep last, volatile)
  with the ``qos_depth`` history (default 1: only the newest frame matters). A best-effort
  subscription matches both best-effort and reliable publishers; ``qos_reliability: reliable``
  is for setups that want retransmission (and then only matches reliable publishers).
* Image outputs (mask, confidence, overlay): reliable, keep last ``qos_depth``, volatile. A
  reliable publisher matches both reliable subscribers (rviz2, ``ros2 topic echo``, rosbag2)
  and best-effort ones.
* label_info: reliable and transient-local with depth 1, so a late subscriber still gets it.
* /diagnostics: reliable, keep last 10 (as diagnostic_updater publishes).
"""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}


def input_qos(reliability: str = 'best_effort', depth: int = 1) -> QoSProfile:
    """Return the QoS of the image, depth and camera_info subscriptions.

    Args:
        reliability: ``'best_effort'`` or ``'reliable'``.
        depth: History depth (keep last), >= 1.

    Returns:
        Sensor-data style profile: keep last ``depth``, volatile, the given reliability.

    Raises:
        ValueError: For another reliability name.
    """
    if reliability not in RELIABILITY:
        raise ValueError(f'qos_reliability {reliability!r} is not one of {", ".join(RELIABILITY)}')
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth),
                      reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)


def output_qos(depth: int = 1) -> QoSProfile:
    """Return the QoS of the mask, confidence and overlay publishers (reliable, keep last)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth),
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched_qos() -> QoSProfile:
    """Return the QoS of label_info: reliable, transient local, keep last 1."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def diagnostics_qos() -> QoSProfile:
    """Return the QoS of /diagnostics: reliable, volatile, keep last 10."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
