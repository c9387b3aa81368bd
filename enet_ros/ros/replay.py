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

"""Replay a rosbag2 recording through the live ``enet`` node over DDS, record and score it.

:class:`Replayer` (what ``enet-ros replay`` runs):

1. reads the recording with ``rosbags`` (:mod:`enet_ros.ros.bag_io`; rosbag2 sqlite3 or mcap);
2. starts the node as a child process (``python -m enet_ros.cli node --ros-args ...`` with
   ``use_sim_time:=true``, the large-image DDS profile and the topic remaps), or attaches to one
   already running (``attach=True``);
3. subscribes to the node's outputs (``<node>/mask``, ``<node>/boxes``, ``<node>/markers``,
   ``<node>/detections``, ``<node>/label_info``, ``/diagnostics``; ``<node>/confidence`` only when
   recording, since the node computes it only for subscribers) and waits until every connection
   is matched;
4. publishes the recorded colour image (raw or ``<image>/compressed``), camera_info and depth
   messages as the recorded CDR bytes (no conversion), each preceded by ``/clock`` = its bag time,
   either paced at the recorded timing divided by ``rate``, or (``fast``) one colour frame at a
   time: the frame's camera_info and depth first, then the colour image, then it waits until the
   node's outputs for that stamp arrived (``mask``; and ``boxes`` when the node offers it) before
   the next frame, so nothing is dropped;
5. matches outputs to inputs by header stamp (the node copies the input header), measures the
   latency (output receive wall time minus input publish wall time), and scores the masks and
   boxes against the ground truth the bag carries (``enet-ros synth --bag`` and
   ``enet-ros bag-from-images --labels`` bags: ``/enet_ros/ground_truth`` JSON and
   ``/enet_ros/ground_truth/mask``);
6. optionally records the node's outputs into a new rosbag2 (bag time of each message = its
   header stamp, i.e. the input image's stamp, so the output bag lines up with the input bag;
   ``/diagnostics`` at its own stamp, which is sim time), and draws overlay PNGs with the boxes
   plus a contact sheet;
7. asks the node for a last ``/diagnostics`` status (advancing ``/clock`` past the end), stops
   the child with SIGINT and returns the report (:mod:`enet_ros.replay_report`).

Only the topics the node reads are published (plus ``/clock``); other recorded topics (tf_static,
ground truth ...) are read for scoring or ignored. Threads: the main thread reads and publishes;
one executor thread runs the subscription callbacks (they only store and record); one worker
thread scores and draws finished frames.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from enet_ros.replay_report import (Box3D, BoxScorer, build_report, FrameRecord,
                                    SegmentationScorer)
from enet_ros.ros import bag_io
from enet_ros.yaml_errors import yaml_error_location
import numpy as np

LOG = logging.getLogger(__name__)

TOPIC_COLOR = '/camera/color/image_raw'
TOPIC_COLOR_INFO = '/camera/color/camera_info'
TOPIC_DEPTH = '/camera/aligned_depth_to_color/image_raw'
TOPIC_GT = '/enet_ros/ground_truth'
TOPIC_GT_MASK = '/enet_ros/ground_truth/mask'
TYPE_IMAGE = 'sensor_msgs/msg/Image'
TYPE_COMPRESSED = 'sensor_msgs/msg/CompressedImage'
TYPE_CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
TYPE_STRING = 'std_msgs/msg/String'
#: Output topics of the node (relative to its fully qualified name) that a replay subscribes to.
OUTPUTS = ('mask', 'confidence', 'boxes', 'markers', 'detections', 'label_info')
_NS = 1_000_000_000


# --------------------------------------------------------------------------- options and plan


# ROS 2 node names (rcl's validation): letters, digits, underscores; no leading digit.
_NODE_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


@dataclasses.dataclass
class ReplayOptions:
    """What to replay and how (``enet-ros replay`` options).

    Attributes:
        bag: The recording (rosbag2 folder).
        weights: Checkpoint for the child node; None: the params file's or the node's default
            (``models/enet_boxes.pt``).
        params_files: YAML parameter files for the child node (``--params-file``).
        node_params: Extra ``name:=value`` parameters for the child node (after the files).
        rate: Playback speed factor for the paced mode (wall time = bag time / rate), > 0.
        fast: Publish one frame at a time, each after the previous one's outputs arrived.
        record: Folder of a new rosbag2 for the node's outputs, or None.
        record_storage: ``'mcap'`` or ``'sqlite3'``.
        export_frames: Folder for overlay PNGs and ``contact_sheet.png``, or None.
        remaps: ``FROM:=TO``: publish the bag topic FROM on topic TO (the node is remapped to
            match).
        image_topic: Bag topic of the colour image (its ``/compressed`` sibling is used with
            ``transport='compressed'``).
        camera_info_topic: Bag topic of the colour camera_info.
        depth_topic: Bag topic of the aligned depth image.
        gt_topic: Bag topic of the ground-truth JSON (std_msgs/String).
        gt_mask_topic: Bag topic of the ground-truth class-id image (mono8 / mono16).
        transport: ``'auto'`` (raw if recorded, else compressed), ``'raw'`` or ``'compressed'``.
        use_depth: Publish depth and run the node with ``use_depth``; None: from the params file
            if it sets it, else whether the bag has the depth topic.
        attach: Use a node already running (``node_name`` in ``namespace``) instead of starting
            one; it should run with ``use_sim_time`` and the matching topics.
        node_name: Name of the node (default ``enet``).
        namespace: Namespace of the node (default ``/``).
        domain_id: ROS domain id of the replay and the child; None: ``ROS_DOMAIN_ID`` or 0.
        limit: Replay only the first N colour frames; None: all.
        startup_timeout_s: Longest wait for the node to come up and connect, seconds.
        frame_timeout_s: Longest wait for one frame's mask (``fast``), and for the last outputs
            at the end, seconds.
        boxes_timeout_s: Longest wait for ``boxes`` after a frame's mask, seconds.
        resend_s: In ``fast`` mode, publish the first frame again when its mask has not come
            after this long (the node may discover the replay's subscribers a moment late);
            0 disables it.
        match_threshold_m: Largest centre distance of a predicted and a ground-truth box that
            are matched, metres.
        min_visible_fraction: Ground-truth boxes with less of their top face visible are not
            expected (see :mod:`enet_ros.replay_report`).
        max_sheet_frames: Most frames on the contact sheet (evenly spaced).
        progress: Show a progress bar.
        node_log: File for the child node's output, or None (kept in memory; the tail is shown
            on failure).
        echo_node_log: Copy the child's output to stderr as it comes.
    """

    bag: str
    weights: Optional[str] = None
    params_files: Sequence[str] = ()
    node_params: Sequence[str] = ()
    rate: float = 1.0
    fast: bool = False
    record: Optional[str] = None
    record_storage: str = 'mcap'
    export_frames: Optional[str] = None
    remaps: Sequence[str] = ()
    image_topic: str = TOPIC_COLOR
    camera_info_topic: str = TOPIC_COLOR_INFO
    depth_topic: str = TOPIC_DEPTH
    gt_topic: str = TOPIC_GT
    gt_mask_topic: str = TOPIC_GT_MASK
    transport: str = 'auto'
    use_depth: Optional[bool] = None
    attach: bool = False
    node_name: str = 'enet'
    namespace: str = '/'
    domain_id: Optional[int] = None
    limit: Optional[int] = None
    startup_timeout_s: float = 180.0
    frame_timeout_s: float = 60.0
    boxes_timeout_s: float = 10.0
    resend_s: float = 10.0
    match_threshold_m: float = 0.1
    min_visible_fraction: float = 0.5
    max_sheet_frames: int = 48
    progress: bool = True
    node_log: Optional[str] = None
    echo_node_log: bool = False

    def validate(self) -> None:
        """Raise ValueError naming a bad option and the fix."""
        if not self.rate > 0 or not math.isfinite(self.rate):
            raise ValueError(f'--rate must be a finite number > 0, got {self.rate}')
        if self.transport not in ('auto', 'raw', 'compressed'):
            raise ValueError(f'transport {self.transport!r} is not auto, raw or compressed')
        if self.record_storage not in bag_io.STORAGES:
            raise ValueError(f'record storage {self.record_storage!r} is not one of '
                             f'{", ".join(bag_io.STORAGES)}')
        if self.limit is not None and self.limit < 1:
            raise ValueError(f'--limit must be >= 1, got {self.limit}')
        if self.record and os.path.exists(self.record):
            raise ValueError(f'--record {self.record} exists; remove it or choose another '
                             'folder')
        if not _NODE_NAME.fullmatch(self.node_name or ''):
            raise ValueError(f'--node-name {self.node_name!r} is not a valid ROS node name: '
                             'letters, digits and underscores, not starting with a digit '
                             '(e.g. enet)')
        parse_remaps(self.remaps)
        for item in self.node_params:
            if ':=' not in item:
                raise ValueError(f'node parameter {item!r} is not NAME:=VALUE')
        for path in self.params_files:
            if not os.path.isfile(path):
                raise FileNotFoundError(f'params file {path} does not exist')
        for name, value in (('frame_timeout_s', self.frame_timeout_s),
                            ('startup_timeout_s', self.startup_timeout_s),
                            ('boxes_timeout_s', self.boxes_timeout_s)):
            if not value > 0:
                raise ValueError(f'{name} must be > 0, got {value}')

    @property
    def node_fqn(self) -> str:
        """Return the node's fully qualified name, e.g. ``/enet`` or ``/robot1/enet``."""
        ns = '/'.join(p for p in self.namespace.split('/') if p)
        return f'/{ns}/{self.node_name}' if ns else f'/{self.node_name}'


def parse_remaps(remaps: Sequence[str]) -> Dict[str, str]:
    """Parse ``FROM:=TO`` topic remaps.

    Args:
        remaps: Items like ``/camera/color/image_raw:=/cam/image``.

    Returns:
        ``{from: to}``.

    Raises:
        ValueError: For an item without ``:=`` or with an empty or relative side.
    """
    out = {}
    for item in remaps:
        src, sep, dst = item.partition(':=')
        if not sep or not src.startswith('/') or not dst.startswith('/'):
            raise ValueError(f'remap {item!r} is not FROM:=TO with absolute topic names, e.g. '
                             '/camera/color/image_raw:=/robot1/camera/image')
        out[src] = dst
    return out


def params_file_value(paths: Sequence[str], name: str, node_name: str = 'enet') -> Any:
    """Return a parameter's value as the given ROS parameter files set it, or None.

    Looks in every ``ros__parameters`` section whose node key matches ``node_name`` (``enet``,
    ``/enet``, ``/**``, ``/ns/enet``, ``/**/enet``); the last file wins, as in rcl.

    Args:
        paths: YAML files.
        name: Parameter name.
        node_name: The node's name.

    Returns:
        The value, or None when no file sets it.

    Raises:
        ValueError: If a file is not valid YAML (naming it and the line).
    """
    import yaml
    value = None
    for path in paths:
        try:
            with open(path, encoding='utf-8') as f:
                doc = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            location, problem = yaml_error_location(exc)
            where = f', {location}' if location else ''
            raise ValueError(f'params file {path}{where}: invalid YAML ({problem}); fix the file '
                             '(ROS 2 parameter YAML: enet: {ros__parameters: {...}})') from None
        for key, section in _parameter_sections(doc):
            parts = [p for p in str(key).split('/') if p]
            if parts and parts[-1] not in (node_name, '**', '*'):
                continue
            if isinstance(section, dict) and name in section:
                value = section[name]
    return value


def _parameter_sections(doc: Any, prefix: str = '') -> List[Tuple[str, Any]]:
    """Return ``(node key, ros__parameters dict)`` pairs of a parameter file (nested keys)."""
    out = []
    if not isinstance(doc, dict):
        return out
    for key, value in doc.items():
        if key == 'ros__parameters':
            out.append((prefix or '/**', value))
        elif isinstance(value, dict):
            out += _parameter_sections(value, f'{prefix}/{key}')
    return out


@dataclasses.dataclass
class InputPlan:
    """Which recorded topics are published where, and how the node is set up.

    Attributes:
        colour: Bag topic of the colour input (raw or ``/compressed``).
        colour_type: Its type, ``sensor_msgs/msg/Image`` or ``sensor_msgs/msg/CompressedImage``.
        transport: ``'raw'`` or ``'compressed'`` (the node's ``input_transport``).
        camera_info: Bag topic of camera_info, or None when the bag has none.
        depth: Bag topic of the depth image, or None (no ``use_depth``).
        use_depth: The node's ``use_depth``.
        gt: Bag topic of the ground-truth JSON, or None.
        gt_mask: Bag topic of the ground-truth mask, or None.
        published: ``{bag topic: published topic}`` for the colour, camera_info and depth.
        frames: Number of colour frames that will be published.
    """

    colour: str
    colour_type: str
    transport: str
    camera_info: Optional[str]
    depth: Optional[str]
    use_depth: bool
    gt: Optional[str]
    gt_mask: Optional[str]
    published: Dict[str, str]
    frames: int

    @property
    def node_image_topic(self) -> str:
        """The topic the node's ``image`` is remapped to (without ``/compressed``)."""
        topic = self.published[self.colour]
        if self.transport == 'compressed' and topic.endswith('/compressed'):
            return topic[:-len('/compressed')]
        return topic


def plan_inputs(connections: Sequence[Any], options: ReplayOptions) -> InputPlan:
    """Choose the recorded topics to publish.

    Args:
        connections: The bag's connections (``topic``, ``msgtype``, ``msgcount``).
        options: The replay options (topics, transport, use_depth, remaps, params files).

    Returns:
        The plan.

    Raises:
        ValueError: The colour topic (raw or compressed, as asked) is missing or has the wrong
            type, depth is required but missing, a depth topic given by name is missing, or the
            depth / camera_info topic has the wrong type; the message lists the bag's topics.
    """
    topics: Dict[str, Tuple[str, int]] = {}
    for c in connections:
        msgtype, count = topics.get(c.topic, (c.msgtype, 0))
        topics[c.topic] = (c.msgtype, count + int(getattr(c, 'msgcount', 0) or 0))
    listing = ', '.join(f'{t} ({m})' for t, (m, _) in sorted(topics.items()))
    transport = options.transport
    if transport == 'auto':
        file_transport = params_file_value(options.params_files, 'input_transport',
                                           options.node_name)
        if file_transport in ('raw', 'compressed'):
            transport = file_transport
        else:
            transport = 'raw' if options.image_topic in topics else 'compressed'
    colour = options.image_topic if transport == 'raw' else options.image_topic + '/compressed'
    want_type = TYPE_IMAGE if transport == 'raw' else TYPE_COMPRESSED
    if colour not in topics:
        raise ValueError(f'the bag has no {colour} ({want_type}); its topics: {listing}. Choose '
                         'the colour topic with --image-topic (and --transport)')
    if topics[colour][0] != want_type:
        raise ValueError(f'{colour} is {topics[colour][0]}, not {want_type}')
    use_depth = options.use_depth
    if use_depth is None:
        from_file = params_file_value(options.params_files, 'use_depth', options.node_name)
        use_depth = bool(from_file) if from_file is not None else options.depth_topic in topics
    if (options.use_depth is None and options.depth_topic != TOPIC_DEPTH
            and options.depth_topic not in topics):
        # A depth topic given by name but absent is a typo, not a wish for colour only.
        raise ValueError(f'--depth-topic {options.depth_topic} is not in the bag; its topics: '
                         f'{listing}. Fix the name, or give --no-depth')
    if use_depth and options.depth_topic not in topics:
        raise ValueError(f'use_depth is set but the bag has no {options.depth_topic}; its '
                         f'topics: {listing}. Give --depth-topic, or --no-depth')
    if use_depth and topics[options.depth_topic][0] != TYPE_IMAGE:
        raise ValueError(f'the depth topic {options.depth_topic} is '
                         f'{topics[options.depth_topic][0]}, not {TYPE_IMAGE}; its topics: '
                         f'{listing}. Give the aligned depth image with --depth-topic')
    info = options.camera_info_topic if options.camera_info_topic in topics else None
    if info is None:
        LOG.warning('the bag has no %s: the node gets no camera_info (no box poses)',
                    options.camera_info_topic)
    elif topics[info][0] != TYPE_CAMERA_INFO:
        raise ValueError(f'the camera_info topic {info} is {topics[info][0]}, not '
                         f'{TYPE_CAMERA_INFO}; its topics: {listing}. Give the colour camera '
                         'info with --camera-info-topic')
    remaps = parse_remaps(options.remaps)
    selected = [t for t in (colour, info, options.depth_topic if use_depth else None) if t]
    published = {t: remaps.get(t, t) for t in selected}
    if transport == 'compressed' and not published[colour].endswith('/compressed'):
        raise ValueError(f'the compressed colour topic is published as {published[colour]}; '
                         "its name must end in '/compressed' (image_transport naming)")
    frames = topics[colour][1]
    if options.limit is not None:
        frames = min(frames, options.limit)
    gt = options.gt_topic if topics.get(options.gt_topic, ('',))[0] == TYPE_STRING else None
    gt_mask = (options.gt_mask_topic
               if topics.get(options.gt_mask_topic, ('',))[0] == TYPE_IMAGE else None)
    return InputPlan(colour=colour, colour_type=want_type, transport=transport,
                     camera_info=info, depth=options.depth_topic if use_depth else None,
                     use_depth=bool(use_depth), gt=gt, gt_mask=gt_mask, published=published,
                     frames=frames)


def node_command(options: ReplayOptions, plan: InputPlan) -> List[str]:
    """Return the command line of the child node.

    The order makes later sources win as rcl applies them: the params files, then the replay's
    settings (``use_sim_time``, ``use_depth``, ``input_transport``), then ``node_params``, then
    ``weights``.

    Args:
        options: The replay options.
        plan: The input plan.

    Returns:
        ``[python, '-m', 'enet_ros.cli', 'node', '--ros-args', ...]``.
    """
    ros = ['-r', f'__node:={options.node_name}']
    if options.node_fqn.rsplit('/', 1)[0]:
        ros += ['-r', f'__ns:={options.node_fqn.rsplit("/", 1)[0]}']
    for path in options.params_files:
        ros += ['--params-file', os.path.abspath(path)]
    ros += ['-p', 'use_sim_time:=true', '-p', f'use_depth:={str(plan.use_depth).lower()}',
            '-p', f'input_transport:={plan.transport}',
            '-r', f'image:={plan.node_image_topic}']
    if plan.camera_info:
        ros += ['-r', f'camera_info:={plan.published[plan.camera_info]}']
    if plan.depth:
        ros += ['-r', f'depth:={plan.published[plan.depth]}']
    for item in options.node_params:
        ros += ['-p', item]
    if options.weights:
        ros += ['-p', f'weights:={os.path.abspath(os.path.expanduser(options.weights))}']
    return [sys.executable, '-m', 'enet_ros.cli', 'node', '--ros-args'] + ros


# --------------------------------------------------------------------------- boxes from messages


def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * _NS + int(header.stamp.nanosec)


def _quat(q: Any) -> np.ndarray:
    return np.array([q.x, q.y, q.z, q.w], np.float64)


def _vec(p: Any) -> np.ndarray:
    return np.array([p.x, p.y, p.z], np.float64)


def boxes_from_messages(pose_array: Any, markers: Any = None,
                        detections: Optional[Sequence[Mapping[str, Any]]] = None
                        ) -> List[Box3D]:
    """Turn the node's box outputs into :class:`~enet_ros.replay_report.Box3D` objects.

    Poses come from ``~/boxes`` (geometry_msgs/PoseArray: one pose per box, the top-face centre
    and the box frame). Sizes come, when available, from

    * ``detections``: decoded ``~/detections`` entries (dicts with ``size_m`` and optionally
      ``score``), one per pose in the same order; or else
    * ``markers`` (visualization_msgs/MarkerArray): the CUBE marker of each pose, found as the
      cube with the same orientation whose centre lies on the pose's normal line (a cube drawn
      around the whole box or at the top face both qualify); its scale is (length, width,
      height). When no cube matches that way but there are as many cubes as poses, they are
      taken in order.

    Args:
        pose_array: The PoseArray (or None: no boxes).
        markers: The MarkerArray of the same frame, or None.
        detections: Decoded detections of the same frame, or None.

    Returns:
        One box per pose (``box_id`` = index in the PoseArray; size NaN where unknown).
    """
    if pose_array is None:
        return []
    boxes = [Box3D(_vec(p.position), _quat(p.orientation), box_id=i)
             for i, p in enumerate(pose_array.poses)]
    if detections is not None and len(detections) == len(boxes):
        for box, det in zip(boxes, detections):
            size = det.get('size_m', det.get('size'))
            if size is not None and len(size) == 3:
                box.size_m = np.asarray(size, np.float64)
            if det.get('score') is not None:
                box.score = float(det['score'])
        return boxes
    cubes = [m for m in getattr(markers, 'markers', []) or []
             if int(m.type) == 1 and int(m.action) == 0]  # CUBE, ADD
    if not cubes:
        return boxes
    used = set()
    for box in boxes:
        z = box.rotation[:, 2]
        for k, cube in enumerate(cubes):
            if k in used:
                continue
            if abs(float(np.dot(_quat(cube.pose.orientation), box.quaternion_xyzw))) < 0.999:
                continue
            offset = _vec(cube.pose.position) - box.position_m
            if np.linalg.norm(offset - np.dot(offset, z) * z) > 0.005:
                continue
            box.size_m = np.array([cube.scale.x, cube.scale.y, cube.scale.z], np.float64)
            used.add(k)
            break
    if not used and len(cubes) == len(boxes):
        for box, cube in zip(boxes, cubes):
            box.size_m = np.array([cube.scale.x, cube.scale.y, cube.scale.z], np.float64)
    return boxes


def parse_detections_json(text: str) -> Optional[List[Dict[str, Any]]]:
    """Decode a std_msgs/String ``~/detections`` JSON: a list, or a dict with a list.

    Args:
        text: The JSON text.

    Returns:
        The list of per-box dicts (under ``detections`` or ``boxes``, or the top-level list),
        or None when it is not that shape.
    """
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if isinstance(doc, dict):
        doc = doc.get('detections', doc.get('boxes'))
    if isinstance(doc, list) and all(isinstance(d, dict) for d in doc):
        return doc
    return None


def parse_label_info(msg: Any) -> Tuple[List[str], Optional[int], List[Tuple[int, int, int]]]:
    """Read class names, ignore index and colours from ``~/label_info``.

    Args:
        msg: std_msgs/String (the node's JSON fallback) or vision_msgs/LabelInfo.

    Returns:
        ``(names, ignore_index, colors)``; colours default to a fixed palette.
    """
    from enet_ros.classes import default_color
    if hasattr(msg, 'data'):
        doc = json.loads(msg.data)
        names = [str(n) for n in doc.get('names', [])]
        colors = [tuple(int(v) for v in c) for c in doc.get('colors', [])]
        ignore = doc.get('ignore_index')
    else:
        pairs = sorted((int(c.class_id), str(c.class_name)) for c in msg.class_map)
        names = [n for _, n in pairs]
        colors, ignore = [], None
    if len(colors) != len(names):
        colors = [default_color(i) for i in range(len(names))]
    return names, ignore, colors


def diagnostic_counts(msg: Any, node_fqn: str) -> Optional[Dict[str, int]]:
    """Return the node's frame counters from a DiagnosticArray, or None when it has none.

    Args:
        msg: diagnostic_msgs/DiagnosticArray.
        node_fqn: The node's fully qualified name (the status name starts with it, without the
            leading slash).

    Returns:
        ``{'received', 'processed', 'dropped', 'rejected', 'failed'}`` (and ``depth_unmatched``
        when present) as ints.
    """
    prefix = node_fqn.lstrip('/') + ':'
    for status in msg.status:
        if not status.name.startswith(prefix):
            continue
        values = {kv.key: kv.value for kv in status.values}
        out = {}
        for key in ('received', 'processed', 'dropped', 'rejected', 'failed', 'depth_unmatched'):
            if key in values:
                try:
                    out[key] = int(values[key])
                except ValueError:
                    pass
        return out or None
    return None


# --------------------------------------------------------------------------- the child node


class NodeProcess:
    """The node as a child process; its output is read line by line in a thread.

    Args:
        argv: Command line.
        env: Environment.
        log_path: File to copy the output to, or None.
        echo: Copy the output to stderr too.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str],
                 log_path: Optional[str] = None, echo: bool = False) -> None:
        """Start the process (stdout and stderr merged)."""
        self.argv = list(argv)
        self.lines: List[str] = []
        self._lock = threading.Lock()
        self._echo = echo
        self._log = open(log_path, 'w', encoding='utf-8') if log_path else None
        self.process = subprocess.Popen(self.argv, env=dict(env), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, errors='replace')
        self._reader = threading.Thread(target=self._read, name='enet_node_log', daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip('\n')
            with self._lock:
                self.lines.append(line)
                del self.lines[:-400]
            if self._log:
                self._log.write(line + '\n')
                self._log.flush()
            if self._echo:
                print(f'[node] {line}', file=sys.stderr)

    def running(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def tail(self, n: int = 30) -> str:
        """Return the last ``n`` output lines."""
        with self._lock:
            return '\n'.join(self.lines[-n:])

    def stop(self, timeout: float = 30.0) -> int:
        """Send SIGINT (as Ctrl-C and launch do); kill after ``timeout``; return the status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            LOG.warning('the node did not stop %.0f s after SIGINT; killing it', timeout)
            self.process.kill()
            status = self.process.wait(timeout=10)
        self._reader.join(timeout=5.0)
        if self._log:
            self._log.close()
            self._log = None
        return status


def _read_messages(reader: Any, connections: Sequence[Any], bag: str) -> Any:
    """Yield ``reader.messages(connections=...)``; a damaged bag raises a clear RuntimeError.

    Only the reader's own errors (a database or chunk that is corrupt further in) are turned
    into the message; errors of the replay itself pass through unchanged.
    """
    messages = iter(reader.messages(connections=connections))
    count = 0
    while True:
        try:
            item = next(messages)
        except StopIteration:
            return
        except Exception as exc:  # noqa: B902 - sqlite3/apsw, mcap and rosbags errors alike
            raise RuntimeError(f'cannot read {bag} after {count} messages: the bag is damaged '
                               f'({type(exc).__name__}: {exc}); re-record or repair it (e.g. ros2 '
                               'bag reindex), or replay the part before with --limit') from None
        count += 1
        yield item


# --------------------------------------------------------------------------- frame state


@dataclasses.dataclass
class _Frame:
    index: int
    stamp_ns: int
    log_ns: int
    record: FrameRecord
    published_at: float = 0.0
    colour_raw: Optional[bytes] = None
    depth_raw: Optional[bytes] = None
    mask: Optional[np.ndarray] = None
    mask_at: Optional[float] = None
    boxes_msg: Any = None
    camera: Any = None
    rgb: Optional[np.ndarray] = None
    queued: bool = False
    lost: bool = False


class Replayer:
    """Replays one recording through the node (see the module docstring).

    Args:
        options: The replay options.

    Raises:
        ValueError, FileNotFoundError: Bad options (checked at construction).
    """

    def __init__(self, options: ReplayOptions) -> None:
        """Check the options."""
        options.validate()
        self.options = options
        self._cond = threading.Condition()
        self._frames: Dict[int, _Frame] = {}
        self._order: List[_Frame] = []
        self._gt_docs: Dict[int, Dict[str, Any]] = {}
        self._gt_masks: Dict[int, np.ndarray] = {}
        self._markers: Dict[int, Any] = {}
        self._detections: Dict[int, Any] = {}
        self._unexpected = 0
        self._last_output_at = 0.0
        self._diag_counts: Optional[Dict[str, int]] = None
        self._diag_seq = 0
        self._label_info: Optional[Tuple[List[str], Optional[int], List]] = None
        self._post_queue: 'queue.Queue[Optional[_Frame]]' = queue.Queue()
        self._seg: Optional[SegmentationScorer] = None
        self._seg_note: Optional[str] = None
        self._boxes_scorer: Optional[BoxScorer] = None
        self._recorder: Optional[bag_io.BagRecorder] = None
        self._thumbs: List[Tuple[int, np.ndarray]] = []
        self._pending_label_info: Any = None
        self._sheet_indices: set = set()
        self._boxes_published = False
        self._markers_published = False
        self._detections_json = False
        self._clock_ns = 0
        self._camera: Any = None
        self._first_info: Optional[bytes] = None
        self._info_stamp: Optional[int] = None
        self._depth_published: Dict[int, bytes] = {}
        self._diag_baseline: Optional[Dict[str, int]] = None
        self.child: Optional[NodeProcess] = None
        self.plan: Optional[InputPlan] = None
        self.report: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ run

    def run(self) -> Dict[str, Any]:
        """Replay the bag and return the report (also in ``self.report``).

        Raises:
            RuntimeError: The node does not start or connect in time, or exits during the
                replay (the message has the tail of its output).
        """
        opts = self.options
        t_start = time.monotonic()
        reader = bag_io.open_bag(opts.bag)
        try:
            self.plan = plan = plan_inputs(reader.connections, opts)
            LOG.info('replaying %s: %d colour frames from %s (%s), depth %s, camera_info %s%s',
                     opts.bag, plan.frames, plan.colour, plan.transport,
                     plan.depth or 'off', plan.camera_info or 'none',
                     ', ground truth' if (plan.gt or plan.gt_mask) else '')
            domain = (opts.domain_id if opts.domain_id is not None
                      else int(os.environ.get('ROS_DOMAIN_ID', '0') or 0))
            if not opts.attach:
                self._start_child(domain)
            exit_code = None
            try:
                self._ros_up(domain)
                try:
                    self._connect()
                    if opts.record:
                        self._recorder = bag_io.BagRecorder(opts.record, opts.record_storage)
                    self._choose_sheet_frames(plan.frames)
                    post = threading.Thread(target=self._post_loop, name='replay_post',
                                            daemon=True)
                    post.start()
                    try:
                        self._stream(reader)
                        self._drain()
                        self._final_diagnostics()
                    finally:
                        self._post_queue.put(None)
                        post.join(timeout=120.0)
                finally:
                    self._ros_down()
            finally:
                if self.child is not None:
                    exit_code = self.child.stop()
                if self._recorder is not None:
                    self._recorder.close()
        finally:
            reader.close()
        self._write_contact_sheet()
        self.report = self._make_report(time.monotonic() - t_start, exit_code)
        return self.report

    # ------------------------------------------------------------------ set-up

    def _start_child(self, domain: int) -> None:
        from enet_ros.ros import dds
        env = dds.large_image_env()
        env['ROS_DOMAIN_ID'] = str(domain)
        env['PYTHONUNBUFFERED'] = '1'
        argv = node_command(self.options, self.plan)
        LOG.info('starting the node: %s', ' '.join(argv))
        self.child = NodeProcess(argv, env, self.options.node_log, self.options.echo_node_log)

    def _ros_up(self, domain: int) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self._rclpy = rclpy
        self._context = rclpy.Context()
        rclpy.init(context=self._context, domain_id=domain)
        self._node = rclpy.create_node(f'enet_replay_{os.getpid()}', context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._spin = threading.Thread(target=self._executor.spin, name='replay_spin',
                                      daemon=True)
        self._spin.start()

    def _ros_down(self) -> None:
        executor = getattr(self, '_executor', None)
        if executor is None:
            return
        executor.shutdown(timeout_sec=5.0)
        self._node.destroy_node()
        self._spin.join(timeout=10.0)
        self._rclpy.try_shutdown(context=self._context)

    def _check_child(self, what: str) -> None:
        if self.child is not None and not self.child.running():
            raise RuntimeError(f'the node exited (status {self.child.process.returncode}) '
                               f'{what}; its last output:\n{self.child.tail()}')

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> bool:
        """Wait for ``predicate`` (re-checked on every callback and every 0.1 s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(0.1, remaining))
                self._check_child(what)
        return True

    def _connect(self) -> None:
        """Subscribe to the outputs, create the publishers, wait until all are matched."""
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseArray
        from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        opts, plan, node = self.options, self.plan, self._node
        fqn = opts.node_fqn
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        matched: Dict[str, threading.Event] = {}

        def sub(name: str, msg_type: Any, topic: str, callback: Callable, qos: Any = reliable
                ) -> None:
            event = matched[name] = threading.Event()

            def on_match(info: Any) -> None:
                if info.current_count:
                    event.set()
                    self._notify()

            node.create_subscription(msg_type, topic, callback, qos,
                                     event_callbacks=SubscriptionEventCallbacks(
                                         matched=on_match))

        sub('mask', Image, f'{fqn}/mask', self._on_mask)
        sub('boxes', PoseArray, f'{fqn}/boxes', self._on_boxes)
        sub('markers', MarkerArray, f'{fqn}/markers', self._on_markers)
        sub('diagnostics', DiagnosticArray, '/diagnostics', self._on_diagnostics)
        if opts.record:
            sub('confidence', Image, f'{fqn}/confidence',
                lambda m: self._record(f'{fqn}/confidence', m))
        label_type = self._label_info_type(f'{fqn}/label_info', String)
        sub('label_info', label_type, f'{fqn}/label_info', self._on_label_info,
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL))

        what = f'before connecting (is {opts.node_fqn} the right node name?)'
        if not self._wait(lambda: matched['mask'].is_set(), opts.startup_timeout_s, what):
            self._check_child(what)
            raise RuntimeError(f'no node publishes {fqn}/mask after {opts.startup_timeout_s:.0f}'
                               ' s' + ('' if opts.attach else
                                       f'; its last output:\n{self.child.tail()}'))
        self._wait(lambda: self._label_info is not None, 30.0, 'while connecting')
        if self._label_info is None:
            LOG.warning('no %s/label_info: class names unknown (no mIoU, default colours)', fqn)
        # The node creates all publishers at start-up; they are discovered together.
        self._boxes_published = self._wait(lambda: node.count_publishers(f'{fqn}/boxes') > 0,
                                           3.0, 'while connecting')
        self._markers_published = node.count_publishers(f'{fqn}/markers') > 0
        self._subscribe_detections(f'{fqn}/detections', String, sub)

        qos_out = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        pub_matched: Dict[str, threading.Event] = {}

        def pub(name: str, msg_type: Any, topic: str) -> Any:
            event = pub_matched[name] = threading.Event()

            def on_match(info: Any) -> None:
                if info.current_count:
                    event.set()
                    self._notify()

            return node.create_publisher(msg_type, topic, qos_out,
                                         event_callbacks=PublisherEventCallbacks(
                                             matched=on_match))

        self._clock_pub = pub('clock', Clock, '/clock')
        colour_cls = Image if plan.colour_type == TYPE_IMAGE else CompressedImage
        self._pubs = {plan.colour: pub('colour', colour_cls, plan.published[plan.colour])}
        need = ['colour']
        if plan.camera_info:
            self._pubs[plan.camera_info] = pub('camera_info', CameraInfo,
                                               plan.published[plan.camera_info])
            need.append('camera_info')
        if plan.depth:
            self._pubs[plan.depth] = pub('depth', Image, plan.published[plan.depth])
            need.append('depth')
        if not self._wait(lambda: all(pub_matched[n].is_set() for n in need),
                          opts.startup_timeout_s, 'while connecting'):
            missing = [plan.published[t] for t, n in zip(
                [plan.colour, plan.camera_info, plan.depth], ['colour', 'camera_info', 'depth'])
                if n in need and not pub_matched[n].is_set()]
            raise RuntimeError(f'the node does not subscribe to {", ".join(missing)} (check '
                               'the topic remaps and use_depth / input_transport)')
        if not opts.attach:
            self._wait(lambda: pub_matched['clock'].is_set(), 10.0, 'while connecting')
        LOG.info('connected to %s (boxes: %s, markers: %s)', fqn,
                 'yes' if self._boxes_published else 'no',
                 'yes' if self._markers_published else 'no')

    def _label_info_type(self, topic: str, default: Any) -> Any:
        """Return the label_info message class: vision_msgs/LabelInfo where it imports."""
        try:
            from vision_msgs.msg import LabelInfo
            return LabelInfo
        except ImportError:
            return default

    def _subscribe_detections(self, topic: str, string_cls: Any, sub: Callable) -> None:
        """Subscribe to ``~/detections`` with whatever type the node publishes (if importable)."""
        infos = self._node.get_publishers_info_by_topic(topic)
        if not infos:
            return
        type_name = infos[0].topic_type
        if type_name == TYPE_STRING:
            cls = string_cls
            self._detections_json = True
        else:
            package, _, name = type_name.partition('/msg/')
            try:
                cls = getattr(importlib.import_module(f'{package}.msg'), name)
            except (ImportError, AttributeError):
                LOG.warning('%s has type %s, which does not import here: not recorded', topic,
                            type_name)
                return
        sub('detections', cls, topic, lambda m: self._on_detections(topic, m))

    # ------------------------------------------------------------------ callbacks (executor)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _record(self, topic: str, msg: Any, stamp: Optional[int] = None) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        from rclpy.serialization import serialize_message
        cls = type(msg)
        msgtype = f'{cls.__module__.split(".")[0]}/msg/{cls.__name__}'
        if stamp is None:
            stamp = _stamp_ns(msg.header) if hasattr(msg, 'header') else self._clock_ns
        recorder.write(topic, msgtype, stamp, serialize_message(msg))

    def _on_mask(self, msg: Any) -> None:
        now = time.monotonic()
        stamp = _stamp_ns(msg.header)
        self._record(f'{self.options.node_fqn}/mask', msg)
        from enet_ros.ros.conversions import image_to_numpy
        with self._cond:
            self._last_output_at = now
            frame = self._frames.get(stamp)
            if frame is None:
                self._unexpected += 1
                self._cond.notify_all()
                return
            if frame.mask_at is None:
                frame.mask_at = now
                frame.record.latency_ms = (now - frame.published_at) * 1000.0
                if self._wants_mask_array():
                    frame.mask = np.array(image_to_numpy(msg)[0], copy=True)
                self._maybe_done(frame)
            self._cond.notify_all()

    def _wants_mask_array(self) -> bool:
        return bool(self.plan.gt_mask or self.options.export_frames)

    def _on_boxes(self, msg: Any) -> None:
        now = time.monotonic()
        stamp = _stamp_ns(msg.header)
        self._record(f'{self.options.node_fqn}/boxes', msg)
        with self._cond:
            self._last_output_at = now
            frame = self._frames.get(stamp)
            if frame is None:
                self._unexpected += 1
            elif frame.boxes_msg is None:
                frame.boxes_msg = msg
                frame.record.boxes_latency_ms = (now - frame.published_at) * 1000.0
                frame.record.num_boxes = len(msg.poses)
                self._maybe_done(frame)
            self._cond.notify_all()

    def _on_markers(self, msg: Any) -> None:
        stamps = {_stamp_ns(m.header) for m in msg.markers}
        stamp = max(stamps) if stamps else self._clock_ns
        self._record(f'{self.options.node_fqn}/markers', msg, stamp)
        with self._cond:
            self._markers[stamp] = msg
            while len(self._markers) > 64:
                self._markers.pop(next(iter(self._markers)))
            self._cond.notify_all()

    def _on_detections(self, topic: str, msg: Any) -> None:
        if hasattr(msg, 'header'):
            stamp = _stamp_ns(msg.header)
            parsed = None
        else:
            parsed = parse_detections_json(msg.data)
            stamp = self._clock_ns
            if isinstance(parsed, list):
                try:
                    doc = json.loads(msg.data)
                    header = doc.get('header', {}) if isinstance(doc, dict) else {}
                    st = header.get('stamp', {})
                    if 'sec' in st:
                        stamp = int(st['sec']) * _NS + int(st.get('nanosec', 0))
                except (ValueError, AttributeError, TypeError):
                    pass
        self._record(topic, msg, stamp)
        if parsed is not None:
            with self._cond:
                self._detections[stamp] = parsed
                while len(self._detections) > 64:
                    self._detections.pop(next(iter(self._detections)))
                self._cond.notify_all()

    def _on_label_info(self, msg: Any) -> None:
        if self._recorder is not None and self._clock_ns:
            self._record(f'{self.options.node_fqn}/label_info', msg, self._clock_ns)
        else:  # recorded with the first frame's stamp (the bag would otherwise start at 0)
            self._pending_label_info = msg
        try:
            info = parse_label_info(msg)
        except (ValueError, TypeError, AttributeError) as exc:
            LOG.warning('cannot read label_info: %s', exc)
            return
        with self._cond:
            self._label_info = info
            self._cond.notify_all()

    def _on_diagnostics(self, msg: Any) -> None:
        counts = diagnostic_counts(msg, self.options.node_fqn)
        if counts is None:
            return
        self._record('/diagnostics', msg)
        with self._cond:
            self._diag_counts = counts
            self._diag_seq += 1
            self._cond.notify_all()

    def _maybe_done(self, frame: _Frame) -> None:
        """Queue a frame for scoring once all its expected outputs are in (lock held)."""
        if frame.queued or frame.mask_at is None:
            return
        if self._boxes_published and frame.boxes_msg is None:
            return
        self._finish(frame)

    def _finish(self, frame: _Frame) -> None:
        if not frame.queued:
            frame.queued = True
            self._post_queue.put(frame)

    # ------------------------------------------------------------------ publishing

    def _publish_clock(self, t_ns: int) -> None:
        from builtin_interfaces.msg import Time
        from rosgraph_msgs.msg import Clock
        self._clock_ns = max(self._clock_ns, int(t_ns))
        pending, self._pending_label_info = self._pending_label_info, None
        if pending is not None:
            self._record(f'{self.options.node_fqn}/label_info', pending, self._clock_ns)
        sec, nsec = divmod(self._clock_ns, _NS)
        self._clock_pub.publish(Clock(clock=Time(sec=sec, nanosec=nsec)))

    def _stream(self, reader: Any) -> None:
        """Read the bag in time order and publish (paced or fast)."""
        from tqdm import tqdm
        opts, plan = self.options, self.plan
        wanted = {plan.colour, plan.camera_info, plan.depth, plan.gt, plan.gt_mask} - {None}
        connections = [c for c in reader.connections if c.topic in wanted]
        self._bar = tqdm(total=plan.frames, unit='frame', desc='replay', dynamic_ncols=True,
                         disable=not opts.progress, leave=True)
        if opts.attach:
            self._attach_baseline(int(reader.start_time))
        self._prime_camera_info(reader)
        held: List[_Frame] = []
        t0_bag: Optional[int] = None
        t0_wall = 0.0
        colour_count = 0
        last_colour_ns = 0
        # Only --limit stops the replay early: the message counts of metadata.yaml (plan.frames,
        # the progress bar's total) may be out of date, and frames beyond them must not be lost.
        limit = opts.limit
        for connection, log_ns, raw in _read_messages(reader, connections, opts.bag):
            topic = connection.topic
            if topic in (plan.gt, plan.gt_mask):
                self._store_gt(reader, connection, raw)
                continue
            if opts.fast:
                while held and self._ready(held[0], log_ns):
                    self._flush_fast(held.pop(0))
                if limit is not None and colour_count >= limit and not held:
                    break
            else:
                if t0_bag is None:
                    t0_bag, t0_wall = log_ns, time.monotonic()
                if limit is not None and colour_count >= limit and \
                        log_ns > last_colour_ns + _NS // 2:
                    break  # --limit reached: the rest of the bag is not played
            if topic == plan.colour:
                if limit is not None and colour_count >= limit:
                    continue
                frame = self._new_frame(reader, connection, raw, log_ns, colour_count)
                colour_count += 1
                last_colour_ns = log_ns
                if frame.lost:                          # a duplicate stamp: not replayed
                    self._bar.update(1)
                elif opts.fast:
                    held.append(frame)
                else:
                    self._pace(t0_bag, t0_wall, log_ns)
                    self._publish_colour(frame, log_ns)
                    self._bar.update(1)
            else:
                data = bag_io.to_cdr(reader, connection, raw)
                stamp = _stamp_ns(reader.deserialize(raw, connection.msgtype).header)
                if topic == plan.camera_info:
                    self._camera = self._camera_model(reader, connection, raw)
                    self._info_stamp = stamp
                else:
                    self._depth_published[stamp] = data
                    while len(self._depth_published) > 64:
                        self._depth_published.pop(next(iter(self._depth_published)))
                if not opts.fast:
                    self._pace(t0_bag, t0_wall, log_ns)
                self._publish_clock(log_ns)
                self._pubs[topic].publish(data)
            self._check_child('during the replay')
            if opts.fast:
                while held and self._ready(held[0], log_ns):
                    self._flush_fast(held.pop(0))
        while held:
            self._flush_fast(held.pop(0))
        if colour_count != plan.frames:
            LOG.warning('the metadata.yaml of the bag lists %d colour frames on %s%s, but %d were '
                        'read and replayed: its message counts are out of date (re-index the bag '
                        'to fix them)', plan.frames, plan.colour,
                        '' if limit is None else f' (--limit {limit})', colour_count)

    def _prime_camera_info(self, reader: Any) -> None:
        """Publish the bag's first camera_info before any frame.

        The node keeps the latest camera_info; published together with the first frame, it can
        be taken after that frame (its executor serves the subscriptions in its own order),
        which then gets no box poses.
        """
        if not self.plan.camera_info:
            return
        conns = [c for c in reader.connections if c.topic == self.plan.camera_info]
        for connection, log_ns, raw in reader.messages(connections=conns):
            self._first_info = bag_io.to_cdr(reader, connection, raw)
            self._camera = self._camera_model(reader, connection, raw)
            self._publish_clock(log_ns)
            self._pubs[self.plan.camera_info].publish(self._first_info)
            self._clock_ns = 0
            return

    def _attach_baseline(self, start_ns: int) -> None:
        """Read an attached node's counters before the replay (they are subtracted at the end).

        A node on sim time publishes /diagnostics only as /clock advances: the clock is stepped
        up to the bag's start (never past it) until a status arrives (about 2.5 s at most).
        """
        with self._cond:
            seq = self._diag_seq
        for k in range(4, -1, -1):
            self._clock_ns = 0  # stepping towards the bag start may go back from a last run
            self._publish_clock(start_ns - k * _NS // 2)
            if self._wait(lambda: self._diag_seq > seq, 0.5, 'before the replay'):
                break
        with self._cond:
            if self._diag_seq > seq and self._diag_counts is not None:
                self._diag_baseline = dict(self._diag_counts)
            else:
                LOG.warning('no /diagnostics from %s before the replay: its counters in the '
                            'report are totals since it started', self.options.node_fqn)
        self._clock_ns = 0

    def _ready(self, frame: _Frame, log_ns: int) -> bool:
        """Whether a held colour frame can be published (``fast`` mode).

        It can once its depth (the nearest stamp within 50 ms, once a depth at or after its
        stamp or 50 ms of the bag have gone by) has been published, and its camera_info
        (same stamp, or any earlier one once the bag has moved 50 ms past the frame); or once
        the bag has moved 0.5 s past it (its depth is missing: the node will not answer).
        """
        slop = int(0.05 * _NS)
        if log_ns > frame.log_ns + int(0.5 * _NS):
            return True
        if self.plan.depth:
            near = [(abs(s - frame.stamp_ns), s) for s in self._depth_published
                    if abs(s - frame.stamp_ns) <= slop]
            if not near:
                return False
            # Its own depth: the nearest stamp. At 30 Hz the previous frame's depth (33 ms
            # earlier) is within the slop too; wait until a depth at or after the frame's stamp
            # is out (or the bag has moved the slop past the frame), so a nearer one cannot
            # still come.
            if log_ns <= frame.log_ns + slop and not any(
                    s >= frame.stamp_ns for s in self._depth_published):
                return False
            frame.depth_raw = self._depth_published[min(near)[1]]
        if self.plan.camera_info:
            if self._info_stamp is None:
                return False
            if abs(self._info_stamp - frame.stamp_ns) > slop and log_ns <= frame.log_ns + slop:
                return False
        return True

    def _pace(self, t0_bag: int, t0_wall: float, log_ns: int) -> None:
        delay = t0_wall + (log_ns - t0_bag) / _NS / self.options.rate - time.monotonic()
        if delay > 0:
            threading.Event().wait(delay)

    def _camera_model(self, reader: Any, connection: Any, raw: Any) -> Any:
        from enet_ros.boxes.camera import CameraModel
        try:
            msg = reader.deserialize(raw, connection.msgtype)
            return CameraModel(K=np.asarray(msg.k, np.float64).reshape(3, 3),
                               D=np.asarray(msg.d, np.float64), width=int(msg.width),
                               height=int(msg.height),
                               distortion_model=msg.distortion_model or 'plumb_bob')
        except (ValueError, TypeError) as exc:
            LOG.warning('camera_info not usable for drawing: %s', exc)
            return None

    def _new_frame(self, reader: Any, connection: Any, raw: Any, log_ns: int,
                   index: int) -> _Frame:
        msg = reader.deserialize(raw, connection.msgtype)
        stamp = _stamp_ns(msg.header)
        frame = _Frame(index=index, stamp_ns=stamp, log_ns=log_ns,
                       record=FrameRecord(stamp_ns=stamp),
                       colour_raw=bag_io.to_cdr(reader, connection, raw))
        if self.options.export_frames:
            from enet_ros.ros.conversions import ImageConverter
            try:
                frame.rgb = np.array(ImageConverter(backend='numpy').to_rgb(msg), copy=True)
            except ValueError as exc:
                LOG.warning('frame %d: cannot decode the colour image for drawing: %s', index,
                            exc)
        with self._cond:
            if stamp in self._frames:
                # The node's outputs carry the stamp: a second frame of one stamp could not be
                # told from the first. It is not published, and the report counts it as dropped.
                LOG.warning('frame %d: a second colour frame with stamp %d ns is not replayed '
                            '(counted as dropped): give every frame its own stamp', index, stamp)
                frame.lost = True
            else:
                self._frames[stamp] = frame
            self._order.append(frame)
        return frame

    def _publish_colour(self, frame: _Frame, log_ns: int) -> None:
        self._publish_clock(log_ns)
        if frame.camera is None:
            frame.camera = self._camera
        with self._cond:
            frame.published_at = time.monotonic()
        self._pubs[self.plan.colour].publish(frame.colour_raw)
        if not self.options.fast:
            frame.colour_raw = None  # kept in fast mode for a resend

    def _flush_fast(self, frame: _Frame) -> None:
        """Publish one held colour frame and wait for its outputs (``fast`` mode).

        The first frame is published once more (at most) when its mask has not come after
        ``resend_s``, or its boxes not after twice the mask latency (at least 2 s): the node may
        have discovered the replay's subscriptions, or taken its first camera_info, a moment
        after that frame (a frame processed without a camera_info has no box poses).
        """
        opts = self.options
        self._publish_colour(frame, frame.log_ns)
        first = frame.index == 0 and opts.resend_s > 0
        resend_at = frame.published_at + opts.resend_s if first else math.inf
        deadline = frame.published_at + opts.frame_timeout_s
        with self._cond:
            while not frame.queued:
                now = time.monotonic()
                if frame.mask_at is not None:
                    if now >= frame.mask_at + opts.boxes_timeout_s:
                        self._finish(frame)  # no boxes message for this frame
                        break
                    if first and frame.record.resent == 0 and resend_at == math.inf:
                        resend_at = frame.mask_at + max(
                            2.0, 2.0 * (frame.mask_at - frame.published_at))
                    wait_until = min(frame.mask_at + opts.boxes_timeout_s, resend_at)
                elif now >= deadline:
                    LOG.warning('frame %d (stamp %d ns): no mask after %.0f s; counted as lost',
                                frame.index, frame.stamp_ns, opts.frame_timeout_s)
                    frame.lost = True
                    break
                else:
                    wait_until = min(deadline, resend_at)
                if now >= resend_at and frame.record.resent == 0:
                    resend_at = math.inf
                    frame.record.resent += 1
                    self._cond.release()
                    try:
                        LOG.info('no %s for the first frame yet: publishing it again',
                                 'mask' if frame.mask_at is None else 'boxes')
                        if self._first_info is not None:
                            self._pubs[self.plan.camera_info].publish(self._first_info)
                        if frame.depth_raw is not None:
                            self._pubs[self.plan.depth].publish(frame.depth_raw)
                        self._pubs[self.plan.colour].publish(frame.colour_raw)
                    finally:
                        self._cond.acquire()
                    continue
                if frame.record.resent:
                    resend_at = math.inf
                self._cond.wait(max(0.0, min(0.5, wait_until - now)))
                self._check_child('during the replay')
        frame.colour_raw = frame.depth_raw = None
        self._bar.update(1)

    # ------------------------------------------------------------------ end of the run

    def _drain(self) -> None:
        """Wait for the outputs of frames still in flight (paced mode), then finish them all."""
        opts = self.options
        start = time.monotonic()
        with self._cond:
            self._last_output_at = max(self._last_output_at, start)

            def settled() -> bool:
                pending = [f for f in self._order if not f.queued and not f.lost]
                if not pending:
                    return True
                now = time.monotonic()
                if now - start > opts.frame_timeout_s:
                    return True
                waiting_boxes = [f for f in pending if f.mask_at is not None]
                if waiting_boxes and len(waiting_boxes) == len(pending):
                    return now - max(f.mask_at for f in waiting_boxes) > opts.boxes_timeout_s
                lat = [f.record.latency_ms for f in self._order if f.record.latency_ms]
                idle = max(10.0, 3.0 * (max(lat) / 1000.0 if lat else 0.0))
                return now - self._last_output_at > idle

            while not settled():
                self._cond.wait(0.2)
            for frame in self._order:
                if not frame.queued and frame.mask_at is not None:
                    self._finish(frame)
        self._bar.close()

    def _final_diagnostics(self) -> None:
        """Advance /clock until the node publishes one more diagnostics status (up to ~10 s)."""
        with self._cond:
            seq = self._diag_seq
        step = int(0.5 * _NS)
        for _ in range(20):
            self._publish_clock(self._clock_ns + step)
            if self._wait(lambda: self._diag_seq > seq, 0.5, 'at the end of the replay'):
                return
        LOG.warning('no final /diagnostics status from %s: node-side counters may be stale',
                    self.options.node_fqn)

    # ------------------------------------------------------------------ ground truth, scoring

    def _store_gt(self, reader: Any, connection: Any, raw: Any) -> None:
        msg = reader.deserialize(raw, connection.msgtype)
        if connection.topic == self.plan.gt:
            try:
                doc = json.loads(msg.data)
                st = doc['header']['stamp']
                stamp = int(st['sec']) * _NS + int(st['nanosec'])
            except (ValueError, KeyError, TypeError) as exc:
                LOG.warning('ground-truth message not understood (%s); skipped', exc)
                return
            with self._cond:
                self._gt_docs[stamp] = doc
                self._cond.notify_all()
        else:
            from enet_ros.ros.conversions import image_to_numpy
            array = np.array(image_to_numpy(msg)[0], copy=True)
            with self._cond:
                self._gt_masks[_stamp_ns(msg.header)] = array
                self._cond.notify_all()

    def _post_loop(self) -> None:
        """Score and draw finished frames (worker thread)."""
        while True:
            frame = self._post_queue.get()
            if frame is None:
                return
            try:
                self._post(frame)
            except Exception as exc:  # noqa: B902 - one bad frame must not stop the replay
                LOG.warning('frame %d: scoring / drawing failed: %s: %s', frame.index,
                            type(exc).__name__, exc)
            finally:
                frame.mask = frame.rgb = None

    def _post(self, frame: _Frame) -> None:
        plan, stamp = self.plan, frame.stamp_ns
        need_gt_doc = plan.gt is not None
        need_gt_mask = plan.gt_mask is not None and frame.mask is not None
        # sizes come from ~/detections (JSON) when the node publishes it, else from ~/markers
        sizes_from = (self._detections if self._detections_json else
                      self._markers if self._markers_published else None)
        sizes_wanted = sizes_from is not None and frame.record.num_boxes
        self._wait(lambda: ((not need_gt_doc or stamp in self._gt_docs)
                            and (not need_gt_mask or stamp in self._gt_masks)
                            and (not sizes_wanted or stamp in sizes_from)), 5.0, 'while scoring')
        with self._cond:
            doc = self._gt_docs.pop(stamp, None)
            gt_mask = self._gt_masks.pop(stamp, None)
            markers = self._markers.pop(stamp, None)
            detections = self._detections.pop(stamp, None)
            label_info = self._label_info
        boxes = boxes_from_messages(frame.boxes_msg, markers, detections)
        if gt_mask is not None and frame.mask is not None:
            self._score_mask(frame, gt_mask, doc, label_info)
        if doc is not None and 'boxes' in doc and frame.boxes_msg is not None:
            if self._boxes_scorer is None:
                self._boxes_scorer = BoxScorer(self.options.match_threshold_m,
                                               self.options.min_visible_fraction)
            self._boxes_scorer.update(boxes, doc)
        if self.options.export_frames and frame.rgb is not None:
            self._export(frame, boxes, label_info)

    def _score_mask(self, frame: _Frame, gt_mask: np.ndarray, doc: Optional[Dict],
                    label_info: Optional[Tuple]) -> None:
        if self._seg is None and self._seg_note is None:
            if label_info is None:
                self._seg_note = 'no label_info from the node: model classes unknown'
            else:
                gt_classes = None
                try:
                    gt_classes = doc['meta']['labels']['classes'] if doc else None
                except (KeyError, TypeError):
                    gt_classes = None
                gt_ignore = None
                try:
                    gt_ignore = doc['meta']['labels'].get('ignore_index') if doc else None
                except (KeyError, TypeError, AttributeError):
                    gt_ignore = None
                try:
                    self._seg = SegmentationScorer(label_info[0], label_info[1], gt_classes,
                                                   gt_ignore)
                except ValueError as exc:
                    self._seg_note = str(exc)
            if self._seg_note:
                LOG.warning('no mIoU: %s', self._seg_note)
        if self._seg is None:
            return
        if gt_mask.shape != frame.mask.shape:
            LOG.warning('frame %d: ground-truth mask %s and node mask %s differ in size; not '
                        'scored', frame.index, gt_mask.shape, frame.mask.shape)
            return
        self._seg.update(frame.mask, gt_mask)

    def _choose_sheet_frames(self, total: int) -> None:
        n = min(total, max(1, self.options.max_sheet_frames))
        if total <= 0:
            return
        self._sheet_indices = {int(round(i * (total - 1) / max(1, n - 1))) for i in range(n)}

    def _export(self, frame: _Frame, boxes: List[Box3D], label_info: Optional[Tuple]) -> None:
        from enet_ros.frames import draw_frame, write_png
        import cv2
        from enet_ros.classes import BOXES
        colors = label_info[2] if label_info else list(BOXES.colors)
        caption = f'#{frame.index} {frame.stamp_ns / 1e9:.3f} s'
        if frame.boxes_msg is not None:
            caption += f', {len(boxes)} boxes'
        image = draw_frame(frame.rgb, frame.mask, colors, boxes, frame.camera, caption=caption)
        write_png(os.path.join(self.options.export_frames, f'frame_{frame.index:05d}.png'), image)
        if frame.index in self._sheet_indices:
            h, w = image.shape[:2]
            thumb = cv2.resize(image, (320, max(1, int(round(h * 320 / w)))),
                               interpolation=cv2.INTER_AREA)
            with self._cond:
                self._thumbs.append((frame.index, thumb))

    def _write_contact_sheet(self) -> None:
        if not self.options.export_frames or not self._thumbs:
            return
        from enet_ros.frames import contact_sheet, write_png
        thumbs = sorted(self._thumbs, key=lambda t: t[0])
        sheet = contact_sheet([t[1] for t in thumbs])  # the frames carry their captions
        write_png(os.path.join(self.options.export_frames, 'contact_sheet.png'), sheet)

    def _node_counts(self) -> Optional[Dict[str, int]]:
        """Return the node's counters over this replay (minus those before it, when attached)."""
        if self._diag_counts is None:
            return None
        base = self._diag_baseline or {}
        return {k: v - base.get(k, 0) for k, v in self._diag_counts.items()}

    def _make_report(self, wall_s: float, exit_code: Optional[int]) -> Dict[str, Any]:
        opts, plan = self.options, self.plan
        info = {
            'bag': os.path.abspath(opts.bag),
            'mode': 'fast' if opts.fast else 'rate',
            'rate': None if opts.fast else opts.rate,
            'node': opts.node_fqn,
            'attached': opts.attach,
            'weights': (os.path.abspath(opts.weights) if opts.weights else
                        '(params file or node default)'),
            'params_files': [os.path.abspath(p) for p in opts.params_files],
            'inputs': {'colour': plan.published[plan.colour], 'transport': plan.transport,
                       'camera_info': plan.published.get(plan.camera_info),
                       'depth': plan.published.get(plan.depth), 'use_depth': plan.use_depth},
            'ground_truth_topics': [t for t in (plan.gt, plan.gt_mask) if t],
            'record': (None if self._recorder is None else {
                'path': os.path.abspath(self._recorder.path), 'storage': opts.record_storage,
                'counts': dict(self._recorder.counts), 'not_recorded': self._recorder.skipped}),
            'export_frames': os.path.abspath(opts.export_frames) if opts.export_frames else None,
            'wall_s': round(wall_s, 2),
            'node_exit_code': exit_code,
        }
        if self._seg_note and self._seg is None:
            info['segmentation_note'] = self._seg_note
        return build_report(
            [f.record for f in self._order],
            segmentation=self._seg.summary() if self._seg is not None else None,
            boxes=self._boxes_scorer.summary() if self._boxes_scorer is not None else None,
            node_counts=self._node_counts(), boxes_published=self._boxes_published,
            unexpected_outputs=self._unexpected, info=info)
