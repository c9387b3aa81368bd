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

"""Reading and writing rosbag2 recordings with the ``rosbags`` library (no rosbag2_py needed).

* :func:`open_bag`: an opened ``rosbags.highlevel.AnyReader`` over one recording (rosbag2 sqlite3
  or mcap, or a ROS 1 bag), with a readable error for a missing or unreadable path.
* :func:`to_cdr`: a message's bytes as ROS 2 CDR, ready for ``Publisher.publish(bytes)``. rosbag2
  stores exactly what DDS carries, so CDR bytes are published unchanged (checked: rclpy's
  ``serialize_message`` of a deserialised Image gives the same bytes, apart from alignment
  padding); ROS 1 messages are converted with the type store's ``ros1_to_cdr``.
* :class:`BagRecorder`: appends CDR messages (from ``rclpy.serialization.serialize_message``) to a
  new rosbag2, one connection per topic, created on first use.

Nothing here imports rclpy; the replay (:mod:`enet_ros.ros.replay`) does the DDS side.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import queue
import threading
from typing import Any, Dict, Optional, Tuple

LOG = logging.getLogger(__name__)

STORAGES = ('mcap', 'sqlite3')
#: rosbag2 metadata version per storage (as ``enet-ros synth`` writes them).
BAG_VERSION = {'mcap': 9, 'sqlite3': 8}


def open_bag(path: str) -> Any:
    """Open a recording for reading.

    Args:
        path: A rosbag2 folder (``metadata.yaml`` + ``.db3`` or ``.mcap``), or a ROS 1 ``.bag``.

    Returns:
        An opened ``rosbags.highlevel.AnyReader`` (close it, or use it as a context manager).

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: The path is not a readable recording (the message says why).
        ImportError: ``rosbags`` is not installed.
    """
    try:
        from rosbags.highlevel import AnyReader
    except ImportError as exc:  # pragma: no cover - rosbags is a requirement
        raise ImportError('reading bags needs the rosbags package: pip install rosbags') from exc
    bag = Path(path)
    if not bag.exists():
        raise FileNotFoundError(f'bag {path} does not exist; give a rosbag2 folder (with '
                                'metadata.yaml) or a ROS 1 .bag file')
    try:
        reader = AnyReader([bag])
        reader.open()
    except Exception as exc:  # noqa: B902 - rosbags raises several types (no metadata, ...)
        raise ValueError(f'cannot read bag {path}: {exc} (expected a rosbag2 folder with '
                         'metadata.yaml and .db3 / .mcap files, or a ROS 1 .bag)') from exc
    return reader


def to_cdr(reader: Any, connection: Any, raw: Any) -> bytes:
    """Return a recorded message as ROS 2 CDR bytes.

    Args:
        reader: The ``AnyReader`` that produced the message.
        connection: Its connection (``msgtype``).
        raw: The recorded bytes.

    Returns:
        CDR bytes (unchanged for rosbag2 recordings; converted from ROS 1 serialisation).
    """
    if getattr(reader, 'is2', True):
        return bytes(raw)
    return bytes(reader.typestore.ros1_to_cdr(bytes(raw), connection.msgtype))


def topic_summary(reader: Any) -> str:
    """Return ``'topic (type, n), ...'`` for every connection, for error messages."""
    return ', '.join(f'{c.topic} ({c.msgtype}, {c.msgcount})' for c in reader.connections)


class BagRecorder:
    """Writes CDR messages into a new rosbag2; :meth:`write` may be called from any thread.

    The bag is written by one thread of its own (the sqlite3 storage may only be used from the
    thread that opened it), fed through a queue, so the callers (subscription callbacks) never
    wait for the disk.

    Args:
        path: Bag folder to create; it must not exist.
        storage: ``'mcap'`` (default) or ``'sqlite3'``.

    Raises:
        ValueError: For an unknown storage.
        FileExistsError: If ``path`` exists.
    """

    def __init__(self, path: str, storage: str = 'mcap') -> None:
        """Start the writer thread, which creates the bag."""
        if storage not in STORAGES:
            raise ValueError(f'unknown bag storage {storage!r}; use one of {", ".join(STORAGES)}')
        if os.path.exists(path):
            raise FileExistsError(f'{path} exists; remove it or choose another --record folder')
        from rosbags.typesys import get_typestore, Stores
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.storage = storage
        self._store = get_typestore(Stores.ROS2_JAZZY)
        self._queue: 'queue.Queue[Optional[Tuple[str, str, int, bytes]]]' = queue.Queue()
        self._lock = threading.Lock()
        self._skipped: Dict[str, str] = {}
        self.counts: Dict[str, int] = {}
        self._closed = False
        self._error: Optional[BaseException] = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name='bag_recorder', daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        try:
            plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
            writer = Writer(self.path, version=BAG_VERSION[self.storage], storage_plugin=plugin)
            writer.open()
        except BaseException as exc:  # noqa: B902 - reported to the constructor
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        connections: Dict[str, Any] = {}
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                topic, msgtype, stamp_ns, data = item
                conn = connections.get(topic)
                if conn is None:
                    conn = connections[topic] = writer.add_connection(topic, msgtype,
                                                                      typestore=self._store)
                writer.write(conn, stamp_ns, data)
        except BaseException as exc:  # noqa: B902 - reported by close()
            self._error = exc
            LOG.error('recording into %s failed: %s', self.path, exc)
        finally:
            writer.close()

    def known_type(self, msgtype: str) -> bool:
        """Whether the type store knows ``msgtype`` (e.g. ``'sensor_msgs/msg/Image'``)."""
        return msgtype in self._store.types

    def write(self, topic: str, msgtype: str, stamp_ns: int, data: bytes) -> bool:
        """Queue one message for the bag.

        Args:
            topic: Topic name.
            msgtype: ROS 2 type name, e.g. ``'sensor_msgs/msg/Image'``.
            stamp_ns: Bag timestamp, integer nanoseconds.
            data: The CDR bytes.

        Returns:
            False (and one warning per topic) when the type is unknown to the type store, or the
            bag is closed; True when queued.
        """
        with self._lock:
            if self._closed:
                return False
            if topic in self._skipped:
                return False
            if topic not in self.counts and not self.known_type(msgtype):
                self._skipped[topic] = msgtype
                LOG.warning('not recording %s: type %s is not in the rosbags type store', topic,
                            msgtype)
                return False
            self.counts[topic] = self.counts.get(topic, 0) + 1
            self._queue.put((topic, msgtype, int(stamp_ns), bytes(data)))
            return True

    @property
    def skipped(self) -> Dict[str, str]:
        """Topics not recorded (type unknown to the type store): ``{topic: type}``."""
        return dict(self._skipped)

    def close(self) -> None:
        """Write what is queued, the index and ``metadata.yaml``; later writes are ignored.

        Raises:
            RuntimeError: Writing failed (the message has the cause).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f'recording into {self.path} failed: {self._error}') \
                from self._error

    def __enter__(self) -> 'BagRecorder':
        """Return self."""
        return self

    def __exit__(self, *exc: Optional[Any]) -> None:
        """Close."""
        self.close()
