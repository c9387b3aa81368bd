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

"""The ``enet`` node: camera images in; class masks, confidence, overlay, labels, diagnostics out.

Topics (relative names; remap them, e.g. ``-r image:=/camera/color/image_raw``):

=========================  ===========================================  ==========================
``image``                  sensor_msgs/Image (any supported encoding)   in, sensor-data QoS
``<image>/compressed``     sensor_msgs/CompressedImage (JPEG / PNG)     in, ``input_transport``
``depth``                  sensor_msgs/Image 16UC1 mm / 32FC1 m          in, with ``use_depth``
``camera_info``            sensor_msgs/CameraInfo (stamp match/latest)  in
``~/mask``                 mono8 class ids (mono16 above 255 classes)   out, reliable
``~/confidence``           mono8 (255 p) or 32FC1 (p)                   out, reliable
``~/overlay``              rgb8 colour blend (only while subscribed)    out, reliable
``~/label_info``           vision_msgs/LabelInfo, or std_msgs/String    out, transient local
                           JSON where vision_msgs is not installed
``~/boxes``                geometry_msgs/PoseArray: box top-face poses   out, reliable
``~/markers``              visualization_msgs/MarkerArray (RViz)        out, reliable
``~/detections``           vision_msgs/Detection3DArray, or             out, reliable
                           std_msgs/String JSON without vision_msgs
``/diagnostics``           diagnostic_msgs/DiagnosticArray, ~1 Hz       out
=========================  ===========================================  ==========================

Every image output carries the input image's header (stamp and frame_id) unchanged, at the input
resolution. Parameters: :mod:`enet_ros.ros.params` (declared from one table, loaded from
``config/enet.yaml``).

Box poses (``~/boxes``, ``~/markers``, ``~/detections``; layouts in
:mod:`enet_ros.ros.box_messages`): with ``use_depth`` (or ``working_plane_z_m``) and
``publish_boxes``, while someone subscribes to one of them, the worker runs
:func:`enet_ros.boxes.estimate_boxes` on the frame's class ids, its paired depth, the latest
``camera_info`` (scaled when it is for another resolution with the same aspect ratio; refused,
counted and reported otherwise) and the colour image (``use_color_edges``). The box outputs carry
the image's header; with ``target_frame`` set and ``tf2_ros`` installed the poses are
transformed at the image's stamp and carry ``target_frame`` (a frame without that transform
within ``tf_timeout_s`` publishes no boxes, counted as a tf failure: planners must not get
camera-frame poses on a topic they read as ``target_frame``). Without ``tf2_ros`` the node says
so once and keeps the camera frame.

Threads: the executor thread runs the subscription callbacks, which decode the message
(:class:`~enet_ros.ros.conversions.ImageConverter`: a bad message is rejected at once and never
displaces a good frame) and put the frame in a one-slot newest-frame buffer
(:class:`~enet_ros.pipeline.LatestFrameSlot`); one inference worker thread takes the newest
frame, runs :class:`~enet_ros.pipeline.SegmentationPipeline` and publishes. A frame that arrives
while another waits replaces it (counted as dropped), so the latency is bounded by about two
model times whatever the camera rate.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import sys
import threading
import time
from typing import Any, Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from enet_ros.boxes import BoxEstimatorConfig, CameraModel, estimate_boxes
from enet_ros.pipeline import (diagnostic_level, FrameResult, LatestFrameSlot, LogThrottle,
                               OutputSettings, SegmentationPipeline, StatsWindow, WARN)
from enet_ros.ros import box_messages, dds, params, qos, tf
from enet_ros.ros.conversions import ImageConversionError, ImageConverter
from enet_ros.ros.depth_sync import ImageInput, stamp_ns
from geometry_msgs.msg import PoseArray
import numpy as np
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
import rclpy.logging
from rclpy.node import Node
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

NODE_NAME = 'enet'


def label_info_types() -> Optional[tuple]:
    """Return ``(LabelInfo, VisionClass)`` from vision_msgs where it imports, else None."""
    try:
        from vision_msgs.msg import LabelInfo, VisionClass
    except ImportError:
        return None
    return LabelInfo, VisionClass


def label_info_json(names: List[str], colors: List[Any], ignore_index: Optional[int],
                    threshold: float) -> str:
    """Return the std_msgs/String fallback of label_info.

    Args:
        names: Class names, index = class id.
        colors: ``(r, g, b)`` colour per class, 0..255.
        ignore_index: The checkpoint's ignore class id, or None.
        threshold: The confidence threshold in use (0..1).

    Returns:
        JSON ``{"ids": [...], "names": [...], "colors": [[r, g, b], ...], "ignore_index": ...,
        "threshold": ...}``.
    """
    return json.dumps({'ids': list(range(len(names))), 'names': list(names),
                       'colors': [[int(v) for v in c] for c in colors],
                       'ignore_index': ignore_index, 'threshold': float(threshold)})


def camera_model_from_info(info: Any) -> CameraModel:
    """Build the estimator's camera model from a ``sensor_msgs/CameraInfo``.

    Uses ``k`` (3x3, row-major), ``d``, ``distortion_model``, ``width`` and ``height`` (the raw,
    unrectified image's intrinsics, as published with ``image_raw``; for a rectified image
    publish a camera_info whose K is P's left 3x3 and whose D is zero).

    Args:
        info: The CameraInfo message (or any object with those fields).

    Returns:
        The camera model.

    Raises:
        ValueError: Naming the problem and the fix: no image size, an all-zero K (an
            uncalibrated camera), binning or a region of interest (not supported), or a K / D
            the camera model refuses.
    """
    width, height = int(info.width), int(info.height)
    if width <= 0 or height <= 0:
        raise ValueError(f'camera_info has no image size ({width}x{height}): publish the '
                         'calibrated width and height')
    k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
    if not np.any(k):
        raise ValueError('camera_info K is all zero (an uncalibrated camera): calibrate it '
                         '(camera_calibration) or publish the factory intrinsics')
    binning = (int(getattr(info, 'binning_x', 0)), int(getattr(info, 'binning_y', 0)))
    roi = getattr(info, 'roi', None)
    roi_size = (int(roi.width), int(roi.height)) if roi is not None else (0, 0)
    if max(binning) > 1 or (roi_size != (0, 0) and roi_size != (width, height)):
        raise ValueError(f'camera_info uses binning {binning} or a region of interest '
                         f'{roi_size}, which the box estimator does not support: publish the '
                         'camera_info of the image as it arrives')
    return CameraModel(K=k, D=np.asarray(info.d, dtype=np.float64), width=width, height=height,
                       distortion_model=str(info.distortion_model))


@dataclasses.dataclass(frozen=True)
class _BoxSettings:
    """Box-estimation settings, swapped as a whole when parameters change."""

    publish: bool
    config: BoxEstimatorConfig
    use_color_edges: bool
    target_frame: str
    tf_timeout_s: float
    marker_lifetime_s: float

    @property
    def has_working_plane(self) -> bool:
        """Whether a metric pose can come without depth (a working plane is configured)."""
        return self.config.working_plane is not None


class _BoxStats:
    """Box counters and timings for the diagnostics (worker writes, timer reads; locked)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames = 0
        self.last_boxes = 0
        self.last_without_pose = 0
        self.camera_info_problems = 0
        self.tf_failures = 0
        self.failures = 0
        self.last_problem: Optional[str] = None
        self.period_ms: List[float] = []
        self.period_problems = 0
        self.output_frame = ''


@dataclasses.dataclass
class Frame:
    """One decoded input frame waiting for the worker.

    Attributes:
        header: The colour image's ``std_msgs/Header`` (copied to every output).
        rgb: ``(H, W, 3)`` uint8 RGB (may be a view of the message's buffer).
        depth: ``(H, W)`` uint16 millimetres or float32 metres, registered to ``rgb``; None
            without ``use_depth``.
        camera_info: The latest ``sensor_msgs/CameraInfo`` when the frame arrived, or None.
        received: ``time.monotonic()`` at arrival.
    """

    header: Any
    rgb: np.ndarray
    depth: Optional[np.ndarray]
    camera_info: Optional[Any]
    received: float


@dataclasses.dataclass(frozen=True)
class _Flags:
    publish_mask: bool = True
    publish_confidence: bool = True
    publish_overlay: bool = True
    input_timeout_s: float = 5.0
    drop_warn_ratio: float = 0.5
    log_throttle_s: float = 5.0


class EnetNode(Node):
    """ENet semantic segmentation node (see the module docstring for topics and threads).

    Args:
        node_name: Node name (default ``enet``; ``-r __node:=...`` renames it).
        segmenter: An already built segmenter to use instead of loading ``weights`` (tests and
            benchmarks): a callable ``(H, W, 3) uint8 -> Segmentation`` with ``meta.classes``.
        start_worker: Start the inference worker thread (False only for benchmarks that call
            :meth:`process_next` themselves).
        **node_kwargs: Passed to ``rclpy.node.Node`` (``context``, ``namespace``,
            ``parameter_overrides``, ``cli_args`` ...).

    Raises:
        params.ParameterError: Invalid parameters (every problem listed).
        FileNotFoundError: The weights file does not exist (the message names the fix).
        ValueError, ImportError, RuntimeError: The checkpoint or backend cannot be loaded.
    """

    def __init__(self, node_name: str = NODE_NAME, *, segmenter: Any = None,
                 start_worker: bool = True, **node_kwargs: Any) -> None:
        """Declare parameters, load the model, create the topics and start the worker."""
        super().__init__(node_name, **node_kwargs)
        self._slot: LatestFrameSlot[Frame] = LatestFrameSlot()
        self._worker: Optional[threading.Thread] = None
        try:
            self._setup(segmenter, start_worker)
        except BaseException:
            self.destroy_node()
            raise

    # ------------------------------------------------------------------ set-up

    def _setup(self, segmenter: Any, start_worker: bool) -> None:
        self.values: Dict[str, Any] = params.declare_all(self)
        v = self.values
        self.weights_path = None
        if segmenter is None:
            segmenter = self._load_segmenter()
        self.segmenter = segmenter
        classes = segmenter.meta.classes
        self._classes = classes
        self._converter = ImageConverter(backend='auto', untyped_order=v['untyped_channel_order'])
        self._pipeline = SegmentationPipeline(segmenter, classes.colors, self._output_settings())
        self._flags = self._make_flags()
        self._throttle = LogThrottle()
        self._stats = StatsWindow(time.monotonic())
        self._camera_info: Optional[CameraInfo] = None
        self._camera_info_count = 0
        # Recent camera_info messages by header stamp: a frame's boxes use the camera_info of
        # its own stamp when one arrives (drivers may publish it just after the image, and
        # intrinsics may change between frames, e.g. in synthetic bags); else the latest.
        self._camera_infos: 'collections.deque[CameraInfo]' = collections.deque(maxlen=32)
        self._camera_info_lock = threading.Lock()
        self._last_error: Optional[str] = None

        overriding = QoSOverridingOptions.with_default_policies()
        out_qos = qos.output_qos(v['qos_depth'])
        self._mask_pub = self.create_publisher(Image, '~/mask', out_qos,
                                               qos_overriding_options=overriding)
        self._confidence_pub = self.create_publisher(Image, '~/confidence', out_qos,
                                                     qos_overriding_options=overriding)
        self._overlay_pub = self.create_publisher(Image, '~/overlay', out_qos,
                                                  qos_overriding_options=overriding)
        types = label_info_types()
        self._label_info_type = 'vision_msgs/LabelInfo' if types else 'std_msgs/String (JSON)'
        self._label_pub = self.create_publisher(types[0] if types else String, '~/label_info',
                                                qos.latched_qos())
        self._setup_boxes(out_qos, overriding)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                               qos.diagnostics_qos())

        in_qos = qos.input_qos(v['qos_reliability'], v['qos_depth'])
        self._input = ImageInput(
            self, self._on_frame, in_qos, compressed=v['input_transport'] == 'compressed',
            use_depth=v['use_depth'], slop=v['sync_slop_s'], queue_size=v['sync_queue_size'],
            qos_overriding_options=overriding)
        self._camera_info_sub = self.create_subscription(CameraInfo, 'camera_info',
                                                         self._on_camera_info, in_qos)

        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._after_set_parameters)
        self._diag_timer = self.create_timer(v['diagnostics_period_s'],
                                             self._publish_diagnostics)
        self._publish_label_info()
        if start_worker:
            worker = threading.Thread(target=self._worker_loop, name='enet_inference',
                                      daemon=True)
            worker.start()
            self._worker = worker
        self._log_configuration()

    def _setup_boxes(self, out_qos: Any, overriding: Any) -> None:
        """Create the box publishers and state (see the module docstring)."""
        self._box_settings = self._make_box_settings(self.values)
        self._check_box_classes(self.values)
        self._box_stats = _BoxStats()
        self._camera_cache: Optional[tuple] = None
        self._scaling_noted: set = set()
        self._tf_missing_noted: set = set()
        self._tf_lookup: Optional[tf.TransformLookup] = None
        self._frame_in_progress: Optional[Frame] = None
        self._boxes_pub = self.create_publisher(PoseArray, '~/boxes', out_qos,
                                                qos_overriding_options=overriding)
        self._markers_pub = self.create_publisher(MarkerArray, '~/markers', out_qos,
                                                  qos_overriding_options=overriding)
        self._detection_types = box_messages.detection_types()
        self._detections_type = ('vision_msgs/Detection3DArray' if self._detection_types
                                 else 'std_msgs/String (JSON)')
        self._detections_pub = self.create_publisher(
            self._detection_types.Detection3DArray if self._detection_types else String,
            '~/detections', out_qos, qos_overriding_options=overriding)

    @property
    def boxes_enabled(self) -> bool:
        """Whether box poses can be estimated: ``use_depth`` or a working plane is set."""
        return bool(self.values['use_depth']) or self._box_settings.has_working_plane

    def _make_box_settings(self, values: Dict[str, Any]) -> _BoxSettings:
        """Build the box settings from parameter values (raises ValueError when invalid)."""
        config = BoxEstimatorConfig(**params.box_config_kwargs(values))
        return _BoxSettings(publish=bool(values['publish_boxes']), config=config,
                            use_color_edges=bool(values['use_color_edges']),
                            target_frame=str(values['target_frame']).strip().lstrip('/'),
                            tf_timeout_s=float(values['tf_timeout_s']),
                            marker_lifetime_s=float(values['box_marker_lifetime_s']))

    def _box_class_problem(self, values: Dict[str, Any]) -> Optional[str]:
        """Return why the box class ids do not fit the model, or None."""
        n = len(self._classes.names)
        ids = list(values['box_class_ids']) + ([values['boundary_class_id']]
                                               if values['boundary_class_id'] >= 0 else [])
        bad = [c for c in ids if c >= n]
        if not bad:
            return None
        return (f'box_class_ids {list(values["box_class_ids"])} / boundary_class_id '
                f'{values["boundary_class_id"]}: class id(s) {bad} do not exist in the model '
                f'({n} classes: {", ".join(self._classes.names)}); set them to the box classes '
                'of the model (the shipped box model: box_class_ids [1], boundary_class_id 2)')

    def _check_box_classes(self, values: Dict[str, Any]) -> None:
        """Refuse box class ids outside the model when box poses are on (start-up)."""
        enabled = values['use_depth'] or self._box_settings.has_working_plane
        problem = self._box_class_problem(values) if enabled and values['publish_boxes'] else None
        if problem:
            raise params.ParameterError(f'invalid parameters of node '
                                        f'{self.get_fully_qualified_name()!r}:\n  {problem}')

    def _load_segmenter(self) -> Any:
        """Resolve ``weights`` and build the Segmenter (heavy imports happen here)."""
        v = self.values
        self.weights_path = params.resolve_weights(v['weights'])
        import torch
        if v['num_threads'] > 0:
            torch.set_num_threads(v['num_threads'])
        from enet_ros.inference.segmenter import Segmenter
        return Segmenter(str(self.weights_path), **params.segmenter_kwargs(v))

    def _output_settings(self) -> OutputSettings:
        v, classes = self.values, self._classes
        return OutputSettings(
            confidence_threshold=v['confidence_threshold'],
            low_confidence_id=classes.ignore_index if classes.ignore_index is not None else 0,
            confidence_encoding=v['confidence_encoding'], overlay_alpha=v['overlay_alpha'])

    def _make_flags(self) -> _Flags:
        v = self.values
        return _Flags(**{f.name: v[f.name] for f in dataclasses.fields(_Flags)})

    def _describe_backend(self) -> Dict[str, str]:
        seg = self.segmenter
        backend = getattr(seg, 'backend', None)
        return {'backend': getattr(backend, 'description', None) or self.values['backend'],
                'device': str(getattr(seg, 'device', self.values['device'])),
                'precision': str(getattr(seg, 'precision', self.values['precision']))}

    def _log_configuration(self) -> None:
        log = self.get_logger()
        v = self.values
        lines = ['configuration:'] + [f'  {k}: {v[k]!r}' for k in v]
        meta = getattr(self.segmenter, 'meta', None)
        lines.append(f'model: {self.weights_path or "(segmenter given by the caller)"}')
        if meta is not None and getattr(meta, 'arch', None) is not None:
            from enet_ros.model.checkpoint import describe
            lines += [f'  {line}' for line in describe(meta)]
        backend = self._describe_backend()
        lines.append(f'backend: {backend["backend"]} (device {backend["device"]}, precision '
                     f'{backend["precision"]})')
        lines.append(f'input: {self._input.colour_topic} ({self._input.colour_type.__name__})'
                     + (f' + depth {self._input.depth_topic}, pairing: {self._input.method}'
                        if v['use_depth'] else '')
                     + f', camera_info {self.resolve_topic_name("camera_info")}, '
                     f'image conversion: {self._converter.backend}')
        lines.append(f'outputs: {self._mask_pub.topic_name}, {self._confidence_pub.topic_name}, '
                     f'{self._overlay_pub.topic_name}, {self._label_pub.topic_name} '
                     f'({self._label_info_type}), /diagnostics')
        lines.append(self._describe_boxes())
        lines.append(f'DDS: {dds.describe_dds_configuration()}')
        log.info('\n'.join(lines))

    def _describe_boxes(self) -> str:
        settings = self._box_settings
        if not self.boxes_enabled:
            return ('boxes: off (box poses need use_depth:=true, or working_plane_z_m > 0); '
                    f'{self._boxes_pub.topic_name} stays silent')
        if not settings.publish:
            return 'boxes: off (publish_boxes is false)'
        if settings.target_frame:
            frames = (f'in {settings.target_frame!r} via tf2' if tf.tf2_ros_module() is not None
                      else f'target_frame {settings.target_frame!r} asked, but tf2_ros is not '
                      'installed: camera frame')
        else:
            frames = 'in the image frame'
        source = 'depth' if self.values['use_depth'] else (
            f'working plane z = {self.values["working_plane_z_m"]} m')
        return (f'boxes: {self._boxes_pub.topic_name} (PoseArray), {self._markers_pub.topic_name}'
                f' (MarkerArray), {self._detections_pub.topic_name} ({self._detections_type}); '
                f'from {source}, {frames}')

    # ------------------------------------------------------------------ parameters

    def _on_set_parameters(self, parameters: List[Any]) -> SetParametersResult:
        """Reject invalid runtime changes with a readable reason (rclpy checks ranges first)."""
        proposed = dict(self.values)
        for p in parameters:
            if p.name not in params.SPECS:
                continue
            value = list(p.value) if params.SPECS[p.name].kind is list else p.value
            reason = params.validate(p.name, value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            proposed[p.name] = value
        problems = params.validate_all(proposed)
        if problems:
            return SetParametersResult(successful=False, reason='; '.join(problems))
        try:
            settings = self._make_box_settings(proposed)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if proposed['publish_boxes'] and (proposed['use_depth'] or settings.has_working_plane):
            problem = self._box_class_problem(proposed)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    def _after_set_parameters(self, parameters: List[Any]) -> None:
        """Act on accepted changes: output settings, flags, label_info threshold."""
        changed = set()
        for p in parameters:
            if p.name in params.SPECS:
                spec = params.SPECS[p.name]
                self.values[p.name] = list(p.value) if spec.kind is list else p.value
                changed.add(p.name)
        if not changed:
            return
        self._pipeline.settings = self._output_settings()
        self._flags = self._make_flags()
        self._box_settings = self._make_box_settings(self.values)
        if 'confidence_threshold' in changed:
            self._publish_label_info()
        self.get_logger().info('parameters changed: ' + ', '.join(
            f'{name}={self.values[name]!r}' for name in sorted(changed)))

    # ------------------------------------------------------------------ inputs

    def _on_camera_info(self, msg: CameraInfo) -> None:
        with self._camera_info_lock:
            self._camera_infos.append(msg)
            self._camera_info = msg
        self._camera_info_count += 1

    def _camera_info_for(self, frame: Frame) -> Optional[CameraInfo]:
        """Return the camera_info with the frame's stamp if one arrived, else the frame's own."""
        stamp = stamp_ns(frame)
        with self._camera_info_lock:
            for info in reversed(self._camera_infos):
                if stamp_ns(info) == stamp:
                    return info
        return frame.camera_info

    def _on_frame(self, msg: Any, depth_msg: Optional[Any]) -> None:
        """Decode one colour (and depth) message and offer it to the worker (executor thread)."""
        now = time.monotonic()
        self._stats.input_seen(now)
        what = 'input'
        try:
            rgb = self._converter.to_rgb(msg)
            what = 'depth'
            depth = self._converter.to_depth(depth_msg) if depth_msg is not None else None
        except Exception as exc:  # noqa: B902 - a bad message must never stop the node
            self._slot.reject()
            kind = '' if isinstance(exc, ImageConversionError) else f'{type(exc).__name__}: '
            self._log_throttled('error', 'reject', f'rejected {what} frame (frame_id '
                                f'{msg.header.frame_id!r}, stamp {stamp_ns(msg)} ns): {kind}{exc}')
            return
        self._slot.put(Frame(msg.header, rgb, depth, self._camera_info, now))

    # ------------------------------------------------------------------ worker

    def _worker_loop(self) -> None:
        while True:
            frame = self._slot.take(timeout=0.5)
            if frame is None:
                if self._slot.closed:
                    return
                continue
            try:
                self._process(frame)
            except Exception as exc:  # noqa: B902 - keep serving; shutdown ends the loop
                if self._slot.closed or not self.context.ok():
                    return
                # _process counts its own failures; this is a bug in the accounting path itself.
                self._log_throttled('error', 'worker', f'frame handling failed: {exc}')

    def process_next(self, timeout: float = 0.0) -> bool:
        """Process the frame waiting in the slot, in the calling thread (benchmarks).

        Args:
            timeout: Seconds to wait for a frame.

        Returns:
            Whether a frame was processed.
        """
        frame = self._slot.take(timeout=timeout)
        if frame is None:
            return False
        self._process(frame)
        return True

    def _process(self, frame: Frame) -> None:
        """Segment one frame and publish its outputs (worker thread)."""
        flags = self._flags
        want_mask = flags.publish_mask and self._mask_pub.get_subscription_count() > 0
        want_conf = (flags.publish_confidence
                     and self._confidence_pub.get_subscription_count() > 0)
        want_overlay = flags.publish_overlay and self._overlay_pub.get_subscription_count() > 0
        try:
            result = self._pipeline.process(frame.rgb, want_confidence=want_conf,
                                            want_overlay=want_overlay)
        except Exception as exc:  # noqa: B902 - reported in diagnostics as a model failure
            self._slot.done(False)
            self._last_error = f'{type(exc).__name__}: {exc}'
            self._log_throttled('error', 'model', f'segmentation failed: {self._last_error}')
            return
        header = frame.header
        try:
            if want_mask:
                self._mask_pub.publish(self._converter.to_image_msg(
                    result.class_ids, result.mask_encoding, header))
            if result.confidence_image is not None:
                self._confidence_pub.publish(self._converter.to_image_msg(
                    result.confidence_image, result.confidence_encoding, header))
            if result.overlay is not None:
                self._overlay_pub.publish(
                    self._converter.to_image_msg(result.overlay, 'rgb8', header))
            self._frame_in_progress = frame
            try:
                self._publish_boxes(header, result, frame.depth, self._camera_info_for(frame))
            finally:
                self._frame_in_progress = None
        except Exception as exc:  # noqa: B902 - counted as failed; the node keeps serving
            if self._slot.closed or not self.context.ok():
                raise  # shutting down: the worker loop ends quietly
            self._slot.done(False)
            self._last_error = f'{type(exc).__name__}: {exc}'
            self._log_throttled('error', 'publish', f'publishing failed: {self._last_error}')
            return
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns(frame)) / 1e6
        model_ms = sum(result.timings_ms.get(k, 0.0)
                       for k in ('preprocess', 'model', 'postprocess'))
        self._slot.done(True)
        self._stats.frame_done(model_ms, latency_ms)
        self.get_logger().debug(
            f'frame {header.frame_id!r} {stamp_ns(frame)} ns: model {model_ms:.1f} ms, outputs '
            f'{result.timings_ms.get("outputs", 0.0):.1f} ms, latency {latency_ms:.1f} ms')

    def _publish_boxes(self, header: Any, result: FrameResult, depth: Optional[np.ndarray],
                       camera_info: Optional[CameraInfo]) -> None:
        """Estimate and publish the box (carton) poses of a frame (worker thread).

        Called by the worker once per processed frame, after the image outputs. It does nothing
        unless box poses are possible (``use_depth`` with a paired depth, or a working plane),
        ``publish_boxes`` is set and someone subscribes to ``~/boxes``, ``~/markers`` or
        ``~/detections``. Problems (an image without frame_id, no or unusable camera_info, a
        failed estimate, no transform to ``target_frame``) are logged (throttled), counted in
        the diagnostics and skip the frame's box outputs; they never stop the worker. The
        colour image of the frame is :attr:`_frame_in_progress` ``.rgb``.

        Args:
            header: The input image's header, copied to every box output (frame_id: the
                camera optical frame, REP 103; replaced by ``target_frame`` after a transform).
            result: The frame's :class:`~enet_ros.pipeline.FrameResult` (``class_ids`` (H, W)
                at the input resolution, ``confidence`` (H, W) float32).
            depth: ``(H, W)`` uint16 millimetres (0: no reading) or float32 metres (NaN or 0: no
                reading), registered to the colour image and paired by stamp within
                ``sync_slop_s``; None without ``use_depth``.
            camera_info: The latest ``sensor_msgs/CameraInfo`` (K, D, distortion model, size),
                or None when none has arrived yet.
        """
        settings = self._box_settings
        if not settings.publish or (depth is None and not settings.has_working_plane):
            return
        if not any(pub.get_subscription_count() > 0 for pub in
                   (self._boxes_pub, self._markers_pub, self._detections_pub)):
            return
        if not str(header.frame_id).strip():
            # A pose in no frame is unusable (tf, planners and RViz all need one): refuse it.
            self._box_problem('failures', 'box-frame-id',
                              'the image header has an empty frame_id: box poses need the '
                              'camera optical frame (REP 103); set the frame id of the camera '
                              'driver (e.g. camera_color_optical_frame); no box outputs for '
                              'this frame')
            return
        height, width = result.class_ids.shape[:2]
        camera = self._camera_for(camera_info, width, height)
        if camera is None:
            return
        frame = self._frame_in_progress
        rgb = frame.rgb if frame is not None and settings.use_color_edges else None
        t0 = time.perf_counter()
        try:
            estimate = estimate_boxes(result.class_ids, depth, camera, color=rgb,
                                      config=settings.config)
        except Exception as exc:  # noqa: B902 - a bad frame must never stop the worker
            self._box_problem('failures', 'box-estimate', f'box estimation failed on frame '
                              f'{header.frame_id!r} {stamp_ns(frame) if frame else "?"} ns: '
                              f'{type(exc).__name__}: {exc}')
            return
        elapsed_ms = (time.perf_counter() - t0) * 1e3
        poses = box_messages.BoxPoses.from_boxes(estimate)
        out_header = box_messages.output_header(header)
        target = settings.target_frame
        if target and target != header.frame_id:
            module = tf.tf2_ros_module()
            if module is None:
                if target not in self._tf_missing_noted:
                    self._tf_missing_noted.add(target)
                    self.get_logger().warning(
                        f'target_frame {target!r} is set but tf2_ros is not installed: box '
                        f'poses stay in the image frame {header.frame_id!r} (install '
                        'ros-<distro>-tf2-ros to transform them)')
            else:
                try:
                    if self._tf_lookup is None:
                        self._tf_lookup = tf.TransformLookup(self, module)
                    translation, rotation = self._tf_lookup.lookup(
                        target, header.frame_id, header.stamp, settings.tf_timeout_s)
                except LookupError as exc:
                    self._box_problem('tf_failures', 'tf', f'{exc}; no box poses published for '
                                      'this frame', severity='warning')
                    return
                poses = poses.transformed(translation, rotation)
                out_header = box_messages.output_header(header, target)
        self._boxes_pub.publish(box_messages.pose_array(out_header, poses))
        self._markers_pub.publish(box_messages.marker_array(out_header, poses,
                                                            settings.marker_lifetime_s))
        if self._detection_types is not None:
            detections = box_messages.detection_array(out_header, poses, self._detection_types)
        else:
            detections = String(data=box_messages.detections_json(out_header, poses))
        self._detections_pub.publish(detections)
        stats = self._box_stats
        with stats.lock:
            stats.frames += 1
            stats.last_boxes = len(poses)
            stats.last_without_pose = len(estimate) - len(poses)
            stats.period_ms.append(elapsed_ms)
            stats.output_frame = out_header.frame_id
        self.get_logger().debug(f'frame {header.frame_id!r}: {len(poses)} box pose(s) '
                                f'({len(estimate) - len(poses)} without) in {elapsed_ms:.1f} ms')

    def _camera_for(self, info: Optional[CameraInfo], width: int,
                    height: int) -> Optional[CameraModel]:
        """Return the camera model for a ``width`` x ``height`` image, or None (reported).

        The model is cached per camera_info content, so its ray table is computed once; a
        camera_info for another resolution with the same aspect ratio is scaled (logged once per
        size pair); anything else is refused with a throttled error and counted.
        """
        if info is None:
            self._box_problem('camera_info_problems', 'camera-info',
                              f'no camera_info received yet on '
                              f'{self.resolve_topic_name("camera_info")}: box poses need the '
                              'camera intrinsics; publish it (remap camera_info:=...)')
            return None
        key = (tuple(info.k), tuple(info.d), info.width, info.height, info.distortion_model,
               info.binning_x, info.binning_y, info.roi.width, info.roi.height)
        try:
            cached = self._camera_cache
            if cached is None or cached[0] != key:
                self._camera_cache = cached = (key, camera_model_from_info(info))
            camera = cached[1]
            scaled = camera.scaled_to(width, height)
        except ValueError as exc:
            self._box_problem('camera_info_problems', 'camera-info',
                              f'camera_info (frame_id {info.header.frame_id!r}) cannot be used '
                              f'for the {width}x{height} image: {exc}')
            return None
        if scaled is not camera and (camera.size, (width, height)) not in self._scaling_noted:
            self._scaling_noted.add((camera.size, (width, height)))
            self.get_logger().info(f'camera_info is for {camera.width}x{camera.height}, the '
                                   f'image is {width}x{height}: scaling K to the image')
        return scaled

    def _box_problem(self, counter: str, key: str, text: str, severity: str = 'error') -> None:
        """Count a box-path problem, remember it for the diagnostics and log it (throttled)."""
        stats = self._box_stats
        with stats.lock:
            setattr(stats, counter, getattr(stats, counter) + 1)
            stats.period_problems += 1
            stats.last_problem = text
        self._log_throttled(severity, key, text)

    # ------------------------------------------------------------------ outputs

    def _publish_label_info(self) -> None:
        classes = self._classes
        threshold = float(self.values['confidence_threshold'])
        types = label_info_types()
        if types is not None:
            label_info_cls, vision_class_cls = types
            msg = label_info_cls()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.class_map = [vision_class_cls(class_id=i, class_name=name)
                             for i, name in enumerate(classes.names)]
            msg.threshold = threshold
        else:
            msg = String(data=label_info_json(list(classes.names), list(classes.colors),
                                              classes.ignore_index, threshold))
        self._label_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        counts = self._slot.counts()
        stats = self._stats.report(time.monotonic(), counts)
        flags = self._flags
        level, message = diagnostic_level(stats, flags.input_timeout_s, flags.drop_warn_ratio,
                                          self._last_error)
        backend = self._describe_backend()

        def fmt(value: float) -> str:
            return 'nan' if value != value else f'{value:.2f}'

        values = {
            'input_rate_hz': fmt(stats.input_hz),
            'processed_rate_hz': fmt(stats.processed_hz),
            'received': str(counts.received),
            'processed': str(counts.processed),
            'dropped': str(counts.dropped),
            'rejected': str(counts.rejected),
            'failed': str(counts.failed),
            'dropped_in_period': str(stats.dropped),
            'inference_ms': fmt(stats.inference_ms),
            'latency_ms': fmt(stats.latency_ms),
            'latency_max_ms': fmt(stats.latency_max_ms),
            'backend': backend['backend'],
            'device': backend['device'],
            'precision': backend['precision'],
            'camera_info_received': str(self._camera_info_count),
        }
        if self.values['use_depth']:
            values['depth_unmatched'] = str(self._input.unmatched)
        if self._last_error:
            values['last_error'] = self._last_error
        box_problem = None
        if self.boxes_enabled:
            stats = self._box_stats
            with stats.lock:
                timings, stats.period_ms = stats.period_ms, []
                problems, stats.period_problems = stats.period_problems, 0
                values.update({
                    'boxes': str(stats.last_boxes),
                    'boxes_without_pose': str(stats.last_without_pose),
                    'box_frames': str(stats.frames),
                    'box_estimation_ms': fmt(float(np.median(timings)) if timings
                                             else float('nan')),
                    'boxes_frame_id': stats.output_frame,
                    'camera_info_problems': str(stats.camera_info_problems),
                    'tf_failures': str(stats.tf_failures),
                    'box_failures': str(stats.failures),
                })
                if stats.last_problem:
                    values['box_last_problem'] = stats.last_problem
                if problems:
                    box_problem = f'box poses: {stats.last_problem}'
        if box_problem is not None:
            if level < WARN:
                level, message = WARN, box_problem
            else:
                message = f'{message}; {box_problem}'

        status = DiagnosticStatus(
            level=bytes([level]), name=f'{self.get_fully_qualified_name().lstrip("/")}: '
            'segmentation', message=message, hardware_id=backend['device'],
            values=[KeyValue(key=k, value=val) for k, val in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)

    def _log_throttled(self, severity: str, key: str, text: str) -> None:
        suppressed = self._throttle.check(key, time.monotonic(), self._flags.log_throttle_s)
        if suppressed is None:
            return
        if suppressed:
            text += f' ({suppressed} similar message(s) suppressed)'
        getattr(self.get_logger(), severity)(text)

    # ------------------------------------------------------------------ shutdown

    def counts(self) -> Any:
        """Return the frame counters (:class:`~enet_ros.pipeline.SlotCounts`)."""
        return self._slot.counts()

    def destroy_node(self) -> None:
        """Stop the inference worker (waiting for the frame in progress), then destroy the node."""
        self._slot.close()
        worker = self._worker
        if worker is not None and worker.ident is not None \
                and worker is not threading.current_thread():
            worker.join(timeout=30.0)
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node: DDS profile, init, construct, spin, shut down.

    Args:
        args: Command line for rclpy (``['prog', '--ros-args', ...]``); None uses ``sys.argv``.

    Returns:
        Exit status: 0 after a normal shutdown, 1 when the node cannot start (the reason is
        logged).
    """
    dds.apply_large_image_profile()  # before rclpy.init: Fast DDS reads it once per process
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(name)s: %(message)s')
    rclpy.init(args=args)
    node = None
    status = 0
    try:
        node = EnetNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        status = 1
    finally:
        try:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        except KeyboardInterrupt:  # a second Ctrl-C (or SIGINT's KeyboardInterrupt) during it
            pass
    return status


if __name__ == '__main__':
    sys.exit(main())
