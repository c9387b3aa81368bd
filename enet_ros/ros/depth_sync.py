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

"""The node's image input: the colour image alone, or colour and depth paired by header stamp.

:class:`ImageInput` subscribes to ``image`` (``sensor_msgs/Image``) or ``<image>/compressed``
(``sensor_msgs/CompressedImage``, image_transport naming: the resolved and remapped ``image``
name plus ``/compressed``) and, with depth, to ``depth`` (``sensor_msgs/Image``, 16UC1 or
32FC1). It calls ``on_frame(colour_msg, depth_msg_or_None)`` once per colour frame to process.

Pairing, with depth: ``message_filters.ApproximateTimeSynchronizer`` (slop = ``sync_slop_s``)
where ``message_filters`` imports (a ROS 2 install); else :class:`enet_ros.pipeline.StampPairer`,
which pairs each colour frame with the nearest depth stamp within the slop. Either way a colour
frame without a depth frame in time is not processed, and it is counted in
:attr:`ImageInput.unmatched` (with message_filters: colour frames seen minus pairs emitted, so it
includes the few frames still waiting in the synchronizer's queue).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Optional

from enet_ros.pipeline import StampPairer
from sensor_msgs.msg import CompressedImage, Image


def stamp_ns(msg: Any) -> int:
    """Return a message's ``header.stamp`` in integer nanoseconds."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def message_filters_module() -> Optional[Any]:
    """Return the ``message_filters`` module where it imports (with a synchronizer), else None."""
    try:
        module = importlib.import_module('message_filters')
    except ImportError:
        return None
    if not hasattr(module, 'ApproximateTimeSynchronizer') or not hasattr(module, 'Subscriber'):
        return None
    return module


class ImageInput:
    """Colour (and depth) subscriptions feeding one callback.

    Args:
        node: The ``rclpy.node.Node``.
        on_frame: Called with ``(colour_msg, depth_msg)`` (depth None without ``use_depth``),
            in the executor thread.
        qos: QoS profile of the subscriptions.
        compressed: Subscribe to ``<image>/compressed`` (CompressedImage) instead of ``image``.
        use_depth: Also subscribe to ``depth`` and pair frames by stamp.
        slop: Largest colour-depth stamp difference in seconds.
        queue_size: Frames kept per stream while pairing.
        use_message_filters: None: message_filters where it imports; False: always the
            built-in :class:`~enet_ros.pipeline.StampPairer`; True: require message_filters.
        qos_overriding_options: Passed to ``create_subscription`` (QoS overrides by parameter),
            or None.
        callback_group: Callback group of the subscriptions, or None (the node's default).

    Raises:
        ImportError: ``use_message_filters=True`` but message_filters does not import.
    """

    def __init__(self, node: Any, on_frame: Callable[[Any, Optional[Any]], None], qos: Any,
                 compressed: bool = False, use_depth: bool = False, slop: float = 0.02,
                 queue_size: int = 10, use_message_filters: Optional[bool] = None,
                 qos_overriding_options: Any = None, callback_group: Any = None) -> None:
        """Create the subscriptions (see the class docstring)."""
        self._node = node
        self._on_frame = on_frame
        self.colour_type = CompressedImage if compressed else Image
        base = node.resolve_topic_name('image')
        self.colour_topic = base + '/compressed' if compressed else base
        self.depth_topic = node.resolve_topic_name('depth') if use_depth else None
        self.use_depth = use_depth
        self.colour_received = 0
        self._paired = 0
        self._pairer: Optional[StampPairer] = None
        self.method = 'none'
        self._subscriptions = []
        extra = {'qos_overriding_options': qos_overriding_options,
                 'callback_group': callback_group}
        if not use_depth:
            self._subscriptions.append(node.create_subscription(
                self.colour_type, self.colour_topic, self._on_colour_only, qos, **extra))
            self.method = 'colour only'
            return
        mf = message_filters_module() if use_message_filters in (None, True) else None
        if use_message_filters and mf is None:
            raise ImportError('use_message_filters=True but message_filters does not import; '
                              'install ros-<distro>-message-filters')
        if mf is not None:
            colour_sub = mf.Subscriber(node, self.colour_type, self.colour_topic,
                                       qos_profile=qos, **extra)
            depth_sub = mf.Subscriber(node, Image, self.depth_topic, qos_profile=qos, **extra)
            self._sync = mf.ApproximateTimeSynchronizer([colour_sub, depth_sub], queue_size, slop)
            self._sync.registerCallback(self._on_pair)
            colour_sub.registerCallback(self._count_colour)
            self._subscriptions += [colour_sub, depth_sub]
            self.method = f'message_filters.ApproximateTimeSynchronizer (slop {slop} s)'
        else:
            self._pairer = StampPairer(slop, queue_size)
            self._subscriptions.append(node.create_subscription(
                self.colour_type, self.colour_topic, self._on_colour_fallback, qos, **extra))
            self._subscriptions.append(node.create_subscription(
                Image, self.depth_topic, self._on_depth_fallback, qos, **extra))
            self.method = f'nearest stamp within {slop} s (built-in; message_filters not found)'

    @property
    def unmatched(self) -> int:
        """Colour frames not processed because no depth frame matched in time."""
        if self._pairer is not None:
            return self._pairer.unmatched
        if not self.use_depth:
            return 0
        return max(0, self.colour_received - self._paired)

    def _on_colour_only(self, msg: Any) -> None:
        self.colour_received += 1
        self._on_frame(msg, None)

    def _count_colour(self, msg: Any) -> None:
        self.colour_received += 1

    def _on_pair(self, colour: Any, depth: Any) -> None:
        self._paired += 1
        self._on_frame(colour, depth)

    def _on_colour_fallback(self, msg: Any) -> None:
        self.colour_received += 1
        for colour, depth in self._pairer.add_colour(stamp_ns(msg), msg):
            self._on_frame(colour, depth)

    def _on_depth_fallback(self, msg: Any) -> None:
        for colour, depth in self._pairer.add_depth(stamp_ns(msg), msg):
            self._on_frame(colour, depth)
