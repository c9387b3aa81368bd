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

"""Write synthetic samples into a rosbag2 (mcap or sqlite3) with RealSense topic names.

Uses the pure-Python ``rosbags`` library and its own message type store (ROS 2 Jazzy
definitions); no ROS installation is needed. One frame per scene, log time = header stamp
(``SynthConfig.stamp_ns``: a fixed start, e.g. 1700000000 s, plus index / rate), frame_id
``camera_color_optical_frame``.

Topics (all messages of one scene share the header stamp):

* ``/camera/color/image_raw``: sensor_msgs/msg/Image, rgb8.
* ``/camera/color/camera_info``: sensor_msgs/msg/CameraInfo, plumb_bob, D = 0.
* ``/camera/aligned_depth_to_color/image_raw``: sensor_msgs/msg/Image, 16UC1 millimetres,
  0 = no data, registered to the colour image.
* ``/camera/aligned_depth_to_color/camera_info``: sensor_msgs/msg/CameraInfo (same as colour).
* ``/enet_ros/ground_truth``: std_msgs/msg/String, the scene's ground-truth JSON.
* ``/enet_ros/ground_truth/mask``: sensor_msgs/msg/Image, mono8 class ids (0 background,
  1 box top face, 2 box_boundary).
* ``/enet_ros/ground_truth/instances``: sensor_msgs/msg/Image, 16UC1 instance ids (0 none,
  k = box ``id`` k).

The ground-truth string is byte-identical to ``gt/NAME.json`` and carries the same stamp in its
``header``, so a replay can score each frame without side files.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from enet_ros.synth.generate import Sample
import numpy as np

TOPIC_COLOR = '/camera/color/image_raw'
TOPIC_COLOR_INFO = '/camera/color/camera_info'
TOPIC_DEPTH = '/camera/aligned_depth_to_color/image_raw'
TOPIC_DEPTH_INFO = '/camera/aligned_depth_to_color/camera_info'
TOPIC_GT = '/enet_ros/ground_truth'
TOPIC_GT_MASK = '/enet_ros/ground_truth/mask'
TOPIC_GT_INSTANCES = '/enet_ros/ground_truth/instances'

TOPICS = {
    TOPIC_COLOR: 'sensor_msgs/msg/Image',
    TOPIC_COLOR_INFO: 'sensor_msgs/msg/CameraInfo',
    TOPIC_DEPTH: 'sensor_msgs/msg/Image',
    TOPIC_DEPTH_INFO: 'sensor_msgs/msg/CameraInfo',
    TOPIC_GT: 'std_msgs/msg/String',
    TOPIC_GT_MASK: 'sensor_msgs/msg/Image',
    TOPIC_GT_INSTANCES: 'sensor_msgs/msg/Image',
}
STORAGES = ('mcap', 'sqlite3')
# rosbag2 metadata version per storage (as the NEURA-derived sample bags in shared/data use).
BAG_VERSION = {'mcap': 9, 'sqlite3': 8}


def header_msg(store: Any, stamp_ns: int, frame_id: str) -> Any:
    """Return a ``std_msgs/Header`` of the rosbags type store ``store``.

    Args:
        store: A rosbags type store (ROS 2 Jazzy definitions).
        stamp_ns: Stamp, integer nanoseconds.
        frame_id: The frame id.
    """
    t = store.types
    return t['std_msgs/msg/Header'](
        stamp=t['builtin_interfaces/msg/Time'](sec=int(stamp_ns // 1_000_000_000),
                                               nanosec=int(stamp_ns % 1_000_000_000)),
        frame_id=frame_id)


def image_msg(store: Any, array: np.ndarray, encoding: str, stamp_ns: int,
              frame_id: str) -> Any:
    """Return a ``sensor_msgs/Image`` of ``array`` (little-endian, unpadded rows).

    Args:
        store: A rosbags type store (ROS 2 Jazzy definitions).
        array: (H, W) or (H, W, C) image; uint16 is written little-endian.
        encoding: The sensor_msgs encoding (e.g. ``rgb8``, ``16UC1``).
        stamp_ns: Stamp, integer nanoseconds.
        frame_id: The frame id.
    """
    arr = np.ascontiguousarray(array)
    if arr.dtype == np.uint16:
        arr = arr.astype('<u2')
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    return store.types['sensor_msgs/msg/Image'](
        header=header_msg(store, stamp_ns, frame_id), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=w * channels * arr.dtype.itemsize,
        data=arr.view(np.uint8).reshape(-1))


class SynthBagWriter:
    """Context manager that appends samples to a new rosbag2.

    Args:
        path: Bag folder to create; it must not exist yet.
        storage: 'mcap' (default) or 'sqlite3'.
        gt_images: Also write the ground-truth mask and instance images.

    Raises:
        ValueError: For an unknown storage.
        FileExistsError: If ``path`` exists.
        ImportError: If ``rosbags`` is not installed.
    """

    def __init__(self, path: str, storage: str = 'mcap', gt_images: bool = True):
        """Check the arguments and prepare the writer (the bag is created on ``__enter__``)."""
        if storage not in STORAGES:
            raise ValueError(f'unknown bag storage {storage!r}; use one of {", ".join(STORAGES)}')
        if os.path.exists(path):
            raise FileExistsError(f'bag path {path} exists; remove it or choose another --bag')
        try:
            from rosbags.rosbag2 import StoragePlugin, Writer
            from rosbags.typesys import get_typestore, Stores
        except ImportError as exc:  # pragma: no cover - rosbags is a dev requirement
            raise ImportError('writing a bag needs the rosbags package: pip install rosbags') \
                from exc
        self.path = path
        self.storage = storage
        self.gt_images = gt_images
        self.store = get_typestore(Stores.ROS2_JAZZY)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(path, version=BAG_VERSION[storage], storage_plugin=plugin)
        self._conns: Dict[str, object] = {}
        self.count = 0

    def __enter__(self) -> 'SynthBagWriter':
        """Create the bag and its connections."""
        self._writer.open()
        for topic, msgtype in TOPICS.items():
            if not self.gt_images and topic in (TOPIC_GT_MASK, TOPIC_GT_INSTANCES):
                continue
            self._conns[topic] = self._writer.add_connection(topic, msgtype,
                                                             typestore=self.store)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Write the index and metadata.yaml and close the bag."""
        self._writer.close()

    def _header(self, stamp_ns: int, frame_id: str):
        return header_msg(self.store, stamp_ns, frame_id)

    def _image(self, array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
        return image_msg(self.store, array, encoding, stamp_ns, frame_id)

    def _camera_info(self, info: Dict, stamp_ns: int):
        t = self.store.types
        roi = info['roi']
        return t['sensor_msgs/msg/CameraInfo'](
            header=self._header(stamp_ns, info['header']['frame_id']),
            height=int(info['height']), width=int(info['width']),
            distortion_model=info['distortion_model'],
            d=np.asarray(info['d'], np.float64), k=np.asarray(info['k'], np.float64),
            r=np.asarray(info['r'], np.float64), p=np.asarray(info['p'], np.float64),
            binning_x=int(info['binning_x']), binning_y=int(info['binning_y']),
            roi=t['sensor_msgs/msg/RegionOfInterest'](
                x_offset=roi['x_offset'], y_offset=roi['y_offset'], height=roi['height'],
                width=roi['width'], do_rectify=bool(roi['do_rectify'])))

    def _put(self, topic: str, msg, stamp_ns: int) -> None:
        data = self.store.serialize_cdr(msg, TOPICS[topic], little_endian=True)
        self._writer.write(self._conns[topic], stamp_ns, bytes(data))

    def write(self, sample: Sample, gt_text: Optional[str] = None) -> None:
        """Append one sample (all topics, stamp = ``sample.stamp_ns``).

        Args:
            sample: The sample.
            gt_text: The exact ground-truth JSON text (as written to ``gt/NAME.json``); made
                from ``sample.gt`` if omitted.
        """
        from enet_ros.synth.writer import json_text
        stamp = int(sample.stamp_ns)
        frame_id = sample.camera_info['header']['frame_id']
        fr = sample.frame
        self._put(TOPIC_COLOR, self._image(fr.rgb, 'rgb8', stamp, frame_id), stamp)
        self._put(TOPIC_COLOR_INFO, self._camera_info(sample.camera_info, stamp), stamp)
        self._put(TOPIC_DEPTH, self._image(fr.depth_mm, '16UC1', stamp, frame_id), stamp)
        self._put(TOPIC_DEPTH_INFO, self._camera_info(sample.camera_info, stamp), stamp)
        text = gt_text if gt_text is not None else json_text(sample.gt)
        self._put(TOPIC_GT, self.store.types['std_msgs/msg/String'](data=text), stamp)
        if self.gt_images:
            self._put(TOPIC_GT_MASK, self._image(fr.mask, 'mono8', stamp, frame_id), stamp)
            self._put(TOPIC_GT_INSTANCES, self._image(fr.instance, '16UC1', stamp, frame_id),
                      stamp)
        self.count += 1
