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

"""The node's processing, without ROS: frame hand-over, segmentation outputs, depth pairing, stats.

The ROS node (:mod:`enet_ros.ros.node`) only turns messages into arrays and back; everything it
decides lives here so that it can be unit-tested without DDS:

* :class:`LatestFrameSlot`: the one-slot newest-frame buffer between the subscription callback and
  the inference worker. A newer frame replaces an unprocessed one (counted as dropped), so the
  latency never grows with time, whatever the camera rate.
* :class:`SegmentationPipeline`: RGB image -> :class:`~enet_ros.inference.segmenter.Segmenter` ->
  the output arrays (class ids after the confidence threshold, confidence image, overlay).
* :class:`StampPairer`: nearest-stamp matching of colour and depth frames within a tolerance (the
  fallback where ``message_filters`` is not installed).
* :class:`StatsWindow` and :func:`diagnostic_level`: the figures and the OK / WARN / ERROR level
  of the node's diagnostics.

Times are seconds (``time.monotonic()`` or ROS time as float) unless a name ends in ``_ms`` or
``_ns``; stamps are integer nanoseconds.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Any, Deque, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

import cv2
from enet_ros.viz import Colorizer, confidence_to_mono8
import numpy as np

LOG = logging.getLogger(__name__)

T = TypeVar('T')
CONFIDENCE_ENCODINGS = ('mono8', '32FC1')


# --------------------------------------------------------------------------- frame hand-over


@dataclasses.dataclass(frozen=True)
class SlotCounts:
    """Counters of a :class:`LatestFrameSlot` (totals since start).

    Attributes:
        received: Input messages seen (accepted by :meth:`LatestFrameSlot.put` or rejected).
        rejected: Messages that could not be used (undecodable, wrong encoding ...).
        dropped: Frames replaced by a newer one before the worker took them.
        processed: Frames the worker finished successfully.
        failed: Frames the worker took but could not process (model errors).
        pending: Frames waiting in the slot now (0 or 1).
    """

    received: int = 0
    rejected: int = 0
    dropped: int = 0
    processed: int = 0
    failed: int = 0
    pending: int = 0


class LatestFrameSlot(Generic[T]):
    """A thread-safe one-slot buffer that keeps only the newest frame.

    The producer (a subscription callback) calls :meth:`put`; the consumer (the inference
    worker) calls :meth:`take`, processes the frame and reports :meth:`done`. A frame put while
    another waits replaces it, and the replaced one counts as dropped: the worker always gets the
    newest frame, and a frame never waits behind older ones.
    """

    def __init__(self) -> None:
        """Create an empty, open slot with zeroed counters."""
        self._cond = threading.Condition()
        self._item: Optional[T] = None
        self._has_item = False
        self._closed = False
        self._received = 0
        self._rejected = 0
        self._dropped = 0
        self._processed = 0
        self._failed = 0

    def put(self, item: T) -> bool:
        """Offer a new frame.

        Args:
            item: The frame (any object).

        Returns:
            True when it replaced an unprocessed frame (which is counted as dropped).
        """
        with self._cond:
            self._received += 1
            replaced = self._has_item
            if replaced:
                self._dropped += 1
            self._item, self._has_item = item, True
            self._cond.notify()
            return replaced

    def reject(self) -> None:
        """Count an input message that could not be used (it never enters the slot)."""
        with self._cond:
            self._received += 1
            self._rejected += 1

    def take(self, timeout: Optional[float] = None) -> Optional[T]:
        """Remove and return the newest frame, waiting for one.

        Args:
            timeout: Seconds to wait at most; None waits until a frame arrives or
                :meth:`close` is called.

        Returns:
            The frame, or None on timeout or after :meth:`close`.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._has_item or self._closed, timeout):
                return None
            if self._closed:
                return None
            item, self._item, self._has_item = self._item, None, False
            return item

    def done(self, success: bool = True) -> None:
        """Report that the frame last taken is finished (``success``) or failed."""
        with self._cond:
            if success:
                self._processed += 1
            else:
                self._failed += 1

    def close(self) -> None:
        """Wake up and stop the consumer: :meth:`take` returns None from now on."""
        with self._cond:
            self._closed = True
            self._item, self._has_item = None, False
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def counts(self) -> SlotCounts:
        """Return a consistent snapshot of the counters."""
        with self._cond:
            return SlotCounts(self._received, self._rejected, self._dropped, self._processed,
                              self._failed, int(self._has_item))


# --------------------------------------------------------------------------- segmentation outputs


@dataclasses.dataclass(frozen=True)
class OutputSettings:
    """Runtime-changeable output settings (swapped as a whole, so a frame sees one version).

    Attributes:
        confidence_threshold: Pixels whose confidence (max softmax probability, 0..1) is below
            this get the class ``low_confidence_id`` in the mask; 0 disables the threshold.
        low_confidence_id: Class id written for low-confidence pixels (the checkpoint's ignore
            index when it has one, else 0).
        confidence_encoding: ``'mono8'`` (``round(255 * p)``) or ``'32FC1'`` (p as float).
        overlay_alpha: Weight of the class colours in the overlay, 0..1.
    """

    confidence_threshold: float = 0.0
    low_confidence_id: int = 0
    confidence_encoding: str = 'mono8'
    overlay_alpha: float = 0.5

    def __post_init__(self) -> None:
        """Validate the values; raise ValueError naming the bad one."""
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f'confidence_threshold must be in [0, 1], got '
                             f'{self.confidence_threshold}')
        if self.confidence_encoding not in CONFIDENCE_ENCODINGS:
            raise ValueError(f'confidence_encoding must be one of {CONFIDENCE_ENCODINGS}, got '
                             f'{self.confidence_encoding!r}')
        if not 0.0 <= self.overlay_alpha <= 1.0:
            raise ValueError(f'overlay_alpha must be in [0, 1], got {self.overlay_alpha}')


@dataclasses.dataclass
class FrameResult:
    """The outputs for one image, at the image's resolution.

    Attributes:
        class_ids: ``(H, W)`` uint8 (uint16 for models with more than 255 classes) class ids,
            after the confidence threshold.
        confidence: ``(H, W)`` float32 max softmax probability in [0, 1].
        confidence_image: The confidence as published (``(H, W)`` uint8 for mono8, float32 for
            32FC1), or None when not requested.
        overlay: ``(H, W, 3)`` uint8 RGB colour blend, or None when not requested. It is a
            buffer the pipeline reuses for the next frame: copy it to keep it.
        timings_ms: ``preprocess``, ``model``, ``postprocess`` (segmenter) and ``outputs``
            (threshold, confidence image, overlay) in milliseconds.
    """

    class_ids: np.ndarray
    confidence: np.ndarray
    confidence_image: Optional[np.ndarray] = None
    overlay: Optional[np.ndarray] = None
    timings_ms: Dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def mask_encoding(self) -> str:
        """ROS encoding of :attr:`class_ids`: ``'mono8'`` or ``'mono16'``."""
        return 'mono8' if self.class_ids.dtype == np.uint8 else 'mono16'

    @property
    def confidence_encoding(self) -> Optional[str]:
        """ROS encoding of :attr:`confidence_image`: ``'mono8'``, ``'32FC1'`` or None."""
        if self.confidence_image is None:
            return None
        return 'mono8' if self.confidence_image.dtype == np.uint8 else '32FC1'


def apply_confidence_threshold(class_ids: np.ndarray, confidence: np.ndarray, threshold: float,
                               low_id: int) -> np.ndarray:
    """Replace the class of low-confidence pixels.

    Args:
        class_ids: ``(H, W)`` uint8 or uint16 class ids.
        confidence: ``(H, W)`` float32 in [0, 1].
        threshold: Pixels with ``confidence < threshold`` change; 0 or less changes none.
        low_id: Class id they get (fits the dtype of ``class_ids``).

    Returns:
        ``class_ids`` itself when nothing can change, else a new array of the same dtype.
    """
    if threshold <= 0.0:
        return class_ids
    keep = cv2.compare(confidence, float(threshold), cv2.CMP_GE)  # 255 where kept, else 0
    if class_ids.dtype == np.uint8:
        out = cv2.bitwise_and(class_ids, keep)
        if low_id:
            out = cv2.bitwise_or(out, cv2.bitwise_and(np.full_like(class_ids, low_id),
                                                      cv2.bitwise_not(keep)))
        return out
    return np.where(keep.view(bool), class_ids, class_ids.dtype.type(low_id))


class SegmentationPipeline:
    """RGB image in; class ids, confidence image and overlay out.

    Args:
        segmenter: Callable mapping an ``(H, W, 3)`` uint8 RGB image to an object with
            ``class_ids`` ``(H, W)`` and ``confidence`` ``(H, W)`` float32 and ``timings_ms``
            (a :class:`~enet_ros.inference.segmenter.Segmenter`, or a stub in tests and
            benchmarks).
        colors: One ``(r, g, b)`` colour per class for the overlay.
        settings: Initial :class:`OutputSettings`.
    """

    def __init__(self, segmenter: Any, colors: Sequence[Tuple[int, int, int]],
                 settings: Optional[OutputSettings] = None) -> None:
        """Keep the segmenter and build the colour table (see the class docstring)."""
        self.segmenter = segmenter
        self.colorizer = Colorizer(colors)
        self.settings = settings or OutputSettings()

    def process(self, rgb: np.ndarray, want_confidence: bool = True,
                want_overlay: bool = False) -> FrameResult:
        """Segment one image and build the requested outputs.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image (a row-padded view is fine).
            want_confidence: Build :attr:`FrameResult.confidence_image`.
            want_overlay: Build :attr:`FrameResult.overlay`.

        Returns:
            The :class:`FrameResult`; all arrays are ``H`` x ``W``.

        Raises:
            Whatever the segmenter raises (the node reports it as a model failure).
        """
        settings = self.settings  # one consistent version for this frame
        seg = self.segmenter(rgb)
        t0 = time.perf_counter()
        ids = apply_confidence_threshold(seg.class_ids, seg.confidence,
                                         settings.confidence_threshold,
                                         settings.low_confidence_id)
        conf_image = None
        if want_confidence:
            if settings.confidence_encoding == 'mono8':
                conf_image = confidence_to_mono8(seg.confidence)
            else:
                conf_image = np.ascontiguousarray(seg.confidence, dtype=np.float32)
        overlay = None
        if want_overlay:
            overlay = self.colorizer.overlay(rgb, ids, settings.overlay_alpha,
                                             reuse_buffers=True)
        timings = dict(getattr(seg, 'timings_ms', {}) or {})
        timings['outputs'] = (time.perf_counter() - t0) * 1e3
        return FrameResult(ids, seg.confidence, conf_image, overlay, timings)


# --------------------------------------------------------------------------- depth pairing


class StampPairer:
    """Pairs colour frames with the depth frame nearest in stamp, within ``slop`` seconds.

    Assumes each stream's stamps increase. A colour frame is decided as soon as a depth frame
    stamped at or after it has arrived (no later depth can be nearer): it is paired with the
    nearest kept depth frame when that is within ``slop``, else counted as unmatched. Until then
    it waits; at most ``queue_size`` colour frames wait, and the oldest beyond that counts as
    unmatched (e.g. when the depth stream stops). Each depth frame can serve several colour
    frames (a faster colour stream). Waiting adds at most one depth period of latency when depth
    stamps trail colour stamps.

    Args:
        slop: Largest accepted stamp difference in seconds.
        queue_size: Colour and depth frames kept while waiting.
    """

    def __init__(self, slop: float, queue_size: int = 10) -> None:
        """Create an empty pairer (see the class docstring); raise ValueError for bad values."""
        if slop < 0 or queue_size < 1:
            raise ValueError(f'slop must be >= 0 and queue_size >= 1, got {slop}, {queue_size}')
        self.slop_ns = int(round(slop * 1e9))
        self.queue_size = queue_size
        self._colour: Deque[Tuple[int, Any]] = collections.deque()
        self._depth: Deque[Tuple[int, Any]] = collections.deque(maxlen=queue_size)
        self._lock = threading.Lock()
        self.colour_received = 0
        self.paired = 0
        self.unmatched = 0

    def add_colour(self, stamp_ns: int, item: Any) -> List[Tuple[Any, Any]]:
        """Add a colour frame; return the ``(colour, depth)`` pairs decided now (oldest first)."""
        with self._lock:
            self.colour_received += 1
            self._colour.append((int(stamp_ns), item))
            while len(self._colour) > self.queue_size:
                self._colour.popleft()
                self.unmatched += 1
            return self._resolve()

    def add_depth(self, stamp_ns: int, item: Any) -> List[Tuple[Any, Any]]:
        """Add a depth frame; return the ``(colour, depth)`` pairs decided now (oldest first)."""
        with self._lock:
            self._depth.append((int(stamp_ns), item))
            return self._resolve()

    def _resolve(self) -> List[Tuple[Any, Any]]:
        pairs = []
        if not self._depth:
            return pairs
        newest_depth = self._depth[-1][0]
        while self._colour and self._colour[0][0] <= newest_depth:
            stamp, colour = self._colour.popleft()
            best_stamp, best = min(self._depth, key=lambda d: abs(d[0] - stamp))
            if abs(best_stamp - stamp) <= self.slop_ns:
                pairs.append((colour, best))
                self.paired += 1
            else:
                self.unmatched += 1
        return pairs


# --------------------------------------------------------------------------- statistics


@dataclasses.dataclass(frozen=True)
class WindowStats:
    """Figures of one diagnostics period.

    Attributes:
        period_s: Length of the period in seconds.
        input_hz: Input messages per second (good and bad).
        processed_hz: Frames processed per second.
        dropped: Frames dropped in the period (replaced before processing).
        rejected: Messages rejected in the period.
        failed: Frames the model failed on in the period.
        inference_ms: Median model time (preprocess + model + postprocess) in the period, or NaN.
        latency_ms: Median end-to-end latency (publish time minus header stamp), or NaN.
        latency_max_ms: Largest end-to-end latency in the period, or NaN.
        since_input_s: Seconds since the last input message (inf before the first one).
    """

    period_s: float
    input_hz: float
    processed_hz: float
    dropped: int
    rejected: int
    failed: int
    inference_ms: float
    latency_ms: float
    latency_max_ms: float
    since_input_s: float

    @property
    def drop_ratio(self) -> float:
        """Dropped frames per input message in the period (0 without input)."""
        received = self.input_hz * self.period_s
        return self.dropped / received if received > 0 else 0.0


class StatsWindow:
    """Accumulates per-frame figures between two diagnostics reports (thread-safe).

    Args:
        now: Start time in seconds (monotonic).
    """

    def __init__(self, now: float) -> None:
        """Start the first period at ``now``."""
        self._lock = threading.Lock()
        self._start = now
        self._last_counts = SlotCounts()
        self._inference_ms: List[float] = []
        self._latency_ms: List[float] = []
        self._last_input: Optional[float] = None

    def input_seen(self, now: float) -> None:
        """Record the arrival time of an input message."""
        self._last_input = now  # a float store is atomic under the GIL

    def frame_done(self, inference_ms: float, latency_ms: float) -> None:
        """Record one processed frame's model time and end-to-end latency (milliseconds)."""
        with self._lock:
            self._inference_ms.append(inference_ms)
            self._latency_ms.append(latency_ms)

    def report(self, now: float, counts: SlotCounts) -> WindowStats:
        """Return the figures since the previous report and start a new period.

        Args:
            now: Current monotonic time in seconds.
            counts: The slot's counters now (totals).
        """
        with self._lock:
            inference, latency = self._inference_ms, self._latency_ms
            self._inference_ms, self._latency_ms = [], []
            period = max(now - self._start, 1e-9)
            last = self._last_counts
            self._start, self._last_counts = now, counts
        since = now - (self._last_input if self._last_input is not None else -np.inf)
        return WindowStats(
            period_s=period,
            input_hz=(counts.received - last.received) / period,
            processed_hz=(counts.processed - last.processed) / period,
            dropped=counts.dropped - last.dropped,
            rejected=counts.rejected - last.rejected,
            failed=counts.failed - last.failed,
            inference_ms=float(np.median(inference)) if inference else float('nan'),
            latency_ms=float(np.median(latency)) if latency else float('nan'),
            latency_max_ms=float(np.max(latency)) if latency else float('nan'),
            since_input_s=float(since))


OK, WARN, ERROR = 0, 1, 2


def diagnostic_level(stats: WindowStats, input_timeout_s: float, drop_warn_ratio: float,
                     last_error: Optional[str] = None) -> Tuple[int, str]:
    """Decide the diagnostics level and its one-line message.

    Args:
        stats: The period's figures.
        input_timeout_s: WARN when no input arrived for this long (seconds).
        drop_warn_ratio: WARN when more than this fraction of the period's input was dropped.
        last_error: The latest model error text, if any.

    Returns:
        ``(level, message)``: level 0 OK, 1 WARN, 2 ERROR (``diagnostic_msgs/DiagnosticStatus``
        values). ERROR when the model failed in the period and processed nothing.
    """
    if stats.failed > 0 and stats.processed_hz == 0:
        return ERROR, f'model failed on {stats.failed} frame(s): {last_error or "unknown error"}'
    problems = []
    if stats.since_input_s > input_timeout_s:
        if np.isinf(stats.since_input_s):
            problems.append('no input image received yet')
        else:
            problems.append(f'no input image for {stats.since_input_s:.1f} s')
    if stats.drop_ratio > drop_warn_ratio:
        problems.append(f'dropping {100 * stats.drop_ratio:.0f}% of input frames (the model is '
                        'slower than the camera: lower the camera rate or use a faster backend)')
    if stats.failed > 0:
        problems.append(f'model failed on {stats.failed} frame(s): {last_error}')
    if problems:
        return WARN, '; '.join(problems)
    return OK, 'ok'


class LogThrottle:
    """Decides whether a repeated message is logged now (at most once per period and key).

    rclpy's ``throttle_duration_sec`` cannot change between calls at one call site; this one
    takes the period at each call, so ``log_throttle_s`` can change at runtime. It also counts
    what it suppressed, for the next message.
    """

    def __init__(self) -> None:
        """Create a throttle that has logged nothing yet."""
        self._lock = threading.Lock()
        self._last: Dict[str, float] = {}
        self._suppressed: Dict[str, int] = {}

    def check(self, key: str, now: float, period: float) -> Optional[int]:
        """Return None to stay silent, or the number of messages suppressed since the last one.

        Args:
            key: What is being logged (one throttle per key).
            now: Current time in seconds (monotonic).
            period: Minimum seconds between two messages of ``key``; 0 logs every one.
        """
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < period:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._suppressed.pop(key, 0)
