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

"""The report of ``enet-ros replay``: frame accounting, latency, boxes, and ground-truth scores.

Pure (NumPy, no ROS): :mod:`enet_ros.ros.replay` feeds it one :class:`FrameRecord` per input
frame, the predicted masks and boxes, and the ground truth the bag carries; :func:`build_report`
returns a JSON-ready dict and :func:`print_report` prints it as a table.

Segmentation scores (:class:`SegmentationScorer`):

* ``classes`` mode when the ground truth uses the model's class list (same names, or the bag
  names none): a full confusion matrix (:class:`~enet_ros.evaluation.ConfusionMatrix`), the same
  figures ``enet-ros evaluate`` gives.
* ``box_vs_background`` mode when the two lists differ but both have box classes (names
  containing ``box`` or ``carton``, e.g. ``box`` and ``box_boundary``): every box class counts as
  *box*, every other class as *background*, and the IoU of those two is reported.

Ground-truth ids outside the class list (e.g. 255) and the ignore index are left out.

Box pose errors (:class:`BoxScorer`), camera optical frame, against the ground-truth JSON of
``enet-ros synth`` (:mod:`enet_ros.synth.groundtruth`): predicted boxes are matched to ground-truth
boxes greedily by top-face centre distance, nearest pair first, within ``max_distance_m``
(greedy rather than Hungarian: cartons are far apart compared with the threshold, so both give
the same pairs, and it needs no SciPy). Per matched pair:

* ``center_error_mm``: distance of the top-face centres, millimetres;
* ``size_error_mm``: mean absolute error of the top face's length and width, millimetres (when
  the prediction carries a size);
* ``height_error_mm``: absolute error of the height (when both are finite);
* ``normal_error_deg``: angle between the top-face normals, degrees;
* ``yaw_error_deg``: angle between the long edges about the ground-truth normal, modulo 180
  degrees (the pose convention's half-turn ambiguity), so in [0, 90].

A ground-truth box is *expected* when at least ``min_visible_fraction`` of its top face is visible;
an expected box without a match is *missed*; a prediction matched to no visible ground-truth box
is *false*. Predictions matched to partly visible (not expected) boxes are counted as *partial*:
neither matched nor false, and their pose errors are left out (the centre of a box mostly out
of view cannot be measured from its visible part), so matched + missed = expected.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from enet_ros.boxes.geometry import quaternion_to_matrix
from enet_ros.evaluation import ConfusionMatrix
import numpy as np

BOX_WORDS = ('box', 'carton')
BINARY_NAMES = ('background', 'box')


# --------------------------------------------------------------------------- boxes


@dataclasses.dataclass
class Box3D:
    """A box (carton) pose: predicted by the node or from the ground truth.

    Attributes:
        position_m: (3,) float64 top-face centre, camera optical frame (REP 103), metres.
        quaternion_xyzw: (4,) float64 orientation of the box frame (z = top-face normal towards
            the camera, x = long edge) in the camera optical frame, ROS order (x, y, z, w).
        size_m: (3,) float64 (length, width, height), metres; NaN where unknown.
        box_id: Identifier (ground-truth id, or the node's index), -1 when unknown.
        score: Detection score in [0, 1], NaN when unknown.
    """

    position_m: np.ndarray
    quaternion_xyzw: np.ndarray
    size_m: np.ndarray = dataclasses.field(
        default_factory=lambda: np.full(3, np.nan))
    box_id: int = -1
    score: float = float('nan')

    def __post_init__(self) -> None:
        """Normalise the arrays to float64 of the documented shapes."""
        self.position_m = np.asarray(self.position_m, np.float64).reshape(3)
        self.quaternion_xyzw = np.asarray(self.quaternion_xyzw, np.float64).reshape(4)
        self.size_m = np.asarray(self.size_m, np.float64).reshape(3)

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) float64 rotation matrix; columns: box x, y, z in the camera frame."""
        return quaternion_to_matrix(self.quaternion_xyzw)


def gt_boxes(doc: Mapping[str, Any], min_visible_fraction: float = 0.5
             ) -> Tuple[List[Box3D], List[bool]]:
    """Read the visible boxes of a ground-truth document (``enet-ros synth``).

    Args:
        doc: The parsed ``/enet_ros/ground_truth`` JSON (``boxes[]`` with ``id``,
            ``position_m``, ``quaternion_xyzw``, ``size_m``, ``visible_px``,
            ``visible_fraction``).
        min_visible_fraction: Fraction of the top face that must be visible for a box to be
            expected in the predictions, [0, 1].

    Returns:
        ``(boxes, expected)``: the boxes with at least one visible pixel, and for each whether it
        is expected.
    """
    boxes, expected = [], []
    for entry in doc.get('boxes') or []:
        if int(entry.get('visible_px', 1)) <= 0:
            continue
        boxes.append(Box3D(entry['position_m'], entry['quaternion_xyzw'],
                           entry.get('size_m', [np.nan] * 3), int(entry.get('id', -1))))
        expected.append(float(entry.get('visible_fraction', 1.0)) >= min_visible_fraction)
    return boxes, expected


def match_boxes(pred: Sequence[Box3D], gt: Sequence[Box3D], max_distance_m: float
                ) -> List[Tuple[int, int, float]]:
    """Match predicted to ground-truth boxes by top-face centre distance (greedy, nearest first).

    Args:
        pred: Predicted boxes.
        gt: Ground-truth boxes.
        max_distance_m: Largest centre distance of a match, metres.

    Returns:
        ``(pred_index, gt_index, distance_m)`` per match, each index used at most once, in
        increasing distance.
    """
    if not pred or not gt:
        return []
    p = np.stack([b.position_m for b in pred])
    g = np.stack([b.position_m for b in gt])
    dist = np.linalg.norm(p[:, None, :] - g[None, :, :], axis=2)
    dist = np.where(np.isfinite(dist), dist, np.inf)
    order = np.argsort(dist, axis=None, kind='stable')
    used_p, used_g, pairs = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), len(gt))
        d = float(dist[i, j])
        if d > max_distance_m:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        pairs.append((i, j, d))
    return pairs


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not (na > 0 and nb > 0):
        return float('nan')
    return math.degrees(math.acos(float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))))


def box_errors(pred: Box3D, gt: Box3D) -> Dict[str, float]:
    """Pose and size errors of one predicted box against its ground-truth box.

    Args:
        pred: The prediction.
        gt: The matched ground-truth box.

    Returns:
        ``center_error_mm``, ``size_error_mm`` (mean absolute length/width error, NaN without a
        predicted size), ``height_error_mm`` (NaN unless both heights are finite),
        ``normal_error_deg`` (angle between the top-face normals) and ``yaw_error_deg`` (angle
        between the long edges about the ground-truth normal, modulo 180, in [0, 90]).
    """
    rp, rg = pred.rotation, gt.rotation
    center = float(np.linalg.norm(pred.position_m - gt.position_m)) * 1000.0
    lw = np.abs(pred.size_m[:2] - gt.size_m[:2])
    size = float(np.mean(lw)) * 1000.0 if np.all(np.isfinite(lw)) else float('nan')
    dh = abs(pred.size_m[2] - gt.size_m[2])
    height = float(dh) * 1000.0 if np.isfinite(dh) else float('nan')
    normal = _angle_deg(rp[:, 2], rg[:, 2])
    n = rg[:, 2]
    x = rp[:, 0] - np.dot(rp[:, 0], n) * n  # predicted long edge in the ground-truth plane
    yaw = _angle_deg(x, rg[:, 0])
    if np.isfinite(yaw):
        yaw = yaw % 180.0
        yaw = min(yaw, 180.0 - yaw)
    return {'center_error_mm': center, 'size_error_mm': size, 'height_error_mm': height,
            'normal_error_deg': normal, 'yaw_error_deg': yaw}


ERROR_KEYS = ('center_error_mm', 'size_error_mm', 'height_error_mm', 'normal_error_deg',
              'yaw_error_deg')


class BoxScorer:
    """Accumulates box matches and pose errors over frames.

    Args:
        max_distance_m: Largest centre distance of a match, metres.
        min_visible_fraction: See :func:`gt_boxes`.
    """

    def __init__(self, max_distance_m: float = 0.1, min_visible_fraction: float = 0.5) -> None:
        """Start empty."""
        if not max_distance_m > 0:
            raise ValueError(f'max_distance_m must be > 0, got {max_distance_m}')
        self.max_distance_m = float(max_distance_m)
        self.min_visible_fraction = float(min_visible_fraction)
        self.frames = 0
        self.expected = self.matched = self.missed = self.false = self.partial = 0
        self.errors: Dict[str, List[float]] = {k: [] for k in ERROR_KEYS}

    def update(self, pred: Sequence[Box3D], gt_doc: Mapping[str, Any]) -> Dict[str, Any]:
        """Score one frame.

        Args:
            pred: The node's boxes of the frame (poses with finite positions).
            gt_doc: The frame's ground-truth document.

        Returns:
            The frame's ``{'matched', 'missed', 'false', 'partial', 'expected', 'pairs'}`` with
            ``pairs`` a list of ``(pred_index, gt_id, errors)`` (expected boxes only).
        """
        pred = [b for b in pred if np.all(np.isfinite(b.position_m))]
        gt, expected = gt_boxes(gt_doc, self.min_visible_fraction)
        pairs = match_boxes(pred, gt, self.max_distance_m)
        matched_gt = {j for _, j, _ in pairs}
        frame_pairs = []
        partial = sum(1 for _, j, _ in pairs if not expected[j])
        for i, j, _ in pairs:
            if not expected[j]:
                continue
            errors = box_errors(pred[i], gt[j])
            for key, value in errors.items():
                if np.isfinite(value):
                    self.errors[key].append(value)
            frame_pairs.append((i, gt[j].box_id, errors))
        missed = sum(1 for j, exp in enumerate(expected) if exp and j not in matched_gt)
        result = {'matched': len(pairs) - partial, 'missed': missed,
                  'false': len(pred) - len(pairs), 'partial': partial,
                  'expected': int(sum(expected)), 'pairs': frame_pairs}
        self.frames += 1
        self.expected += result['expected']
        self.matched += result['matched']
        self.missed += missed
        self.false += result['false']
        self.partial += partial
        return result

    def summary(self) -> Dict[str, Any]:
        """Return the totals and error statistics (see :func:`stats`), JSON-ready."""
        out: Dict[str, Any] = {'frames': self.frames, 'expected': self.expected,
                               'matched': self.matched, 'missed': self.missed,
                               'false': self.false, 'partial': self.partial,
                               'match_threshold_m': self.max_distance_m,
                               'min_visible_fraction': self.min_visible_fraction}
        for key in ERROR_KEYS:
            out[key] = stats(self.errors[key])
        return out


# --------------------------------------------------------------------------- segmentation


def is_box_class(name: str) -> bool:
    """Whether a class name denotes boxes (contains ``box`` or ``carton``, any case)."""
    low = name.lower()
    return any(word in low for word in BOX_WORDS)


class SegmentationScorer:
    """mIoU of the node's masks against ground-truth masks (see the module docstring for modes).

    Args:
        model_classes: The model's class names, index = id (from ``~/label_info``).
        model_ignore: The model's ignore class id, or None.
        gt_classes: The ground truth's class names, or None when the bag names none (then the
            model's list is assumed).
        gt_ignore: Ground-truth id left out of the scores (None: the model's ignore id in
            ``classes`` mode; ids outside the list are always left out).

    Raises:
        ValueError: When the lists differ and one of them has no box class (no common ground).
    """

    def __init__(self, model_classes: Sequence[str], model_ignore: Optional[int] = None,
                 gt_classes: Optional[Sequence[str]] = None,
                 gt_ignore: Optional[int] = None) -> None:
        """Choose the mode and build the id look-up tables."""
        model_classes = [str(n) for n in model_classes]
        if not model_classes:
            raise ValueError('the model has no class names (is ~/label_info published?)')
        self.model_classes = model_classes
        if gt_classes is None or [str(n) for n in gt_classes] == model_classes:
            self.mode = 'classes'
            self.class_names = list(model_classes)
            ignore = gt_ignore if gt_ignore is not None else model_ignore
            self._pred_lut = self._gt_lut = None
        else:
            gt_classes = [str(n) for n in gt_classes]
            model_has_box = any(map(is_box_class, model_classes))
            if not model_has_box or not any(map(is_box_class, gt_classes)):
                raise ValueError(
                    f'ground-truth classes {gt_classes} and model classes {model_classes} '
                    'differ and do not both have box classes: the masks cannot be compared '
                    '(use a bag whose labels use the model class list)')
            self.mode = 'box_vs_background'
            self.class_names = list(BINARY_NAMES)
            ignore = None
            self._pred_lut = self._lut(model_classes, None)
            self._gt_lut = self._lut(gt_classes, gt_ignore)
        self.ignore_index = ignore
        self.cm = ConfusionMatrix(len(self.class_names), ignore)
        self.frames = 0

    @staticmethod
    def _lut(names: Sequence[str], ignore: Optional[int]) -> np.ndarray:
        """Return a 65536-entry id -> {0, 1, 255} table (255: left out)."""
        lut = np.full(65536, 255, np.uint8)
        for i, name in enumerate(names):
            lut[i] = 1 if is_box_class(name) else 0
        if ignore is not None and 0 <= ignore < 65536:
            lut[ignore] = 255
        return lut

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Add one frame.

        Args:
            prediction: (H, W) uint8/uint16 class ids from ``~/mask``.
            target: (H, W) integer ground-truth class ids of the same size.

        Raises:
            ValueError: If the sizes differ.
        """
        if self._pred_lut is not None:
            prediction = self._pred_lut[np.asarray(prediction).astype(np.intp)]
            target = self._gt_lut[np.clip(np.asarray(target).astype(np.intp), 0, 65535)]
        self.cm.update(np.asarray(prediction), np.asarray(target))
        self.frames += 1

    def summary(self) -> Dict[str, Any]:
        """Return ``{'mode', 'frames', 'class_names', 'miou', 'pixel_accuracy', 'per_class_iou'}``.

        IoUs are fractions in [0, 1]; NaN (a class absent from both) becomes None.
        """
        ious = self.cm.iou()
        return {'mode': self.mode, 'frames': self.frames, 'class_names': self.class_names,
                'ignore_index': self.ignore_index, 'miou': _finite(self.cm.miou()),
                'pixel_accuracy': _finite(self.cm.pixel_accuracy()),
                'per_class_iou': {self.class_names[c]: _finite(ious[c])
                                  for c in self.cm.evaluated_classes()}}


# --------------------------------------------------------------------------- frames and report


@dataclasses.dataclass
class FrameRecord:
    """What happened to one input (colour) frame.

    Attributes:
        stamp_ns: Header stamp of the input image, integer nanoseconds.
        latency_ms: ``~/mask`` receive wall time minus the input's publish wall time,
            milliseconds; None when no mask arrived.
        boxes_latency_ms: The same for ``~/boxes``; None when no boxes message arrived.
        num_boxes: Boxes in the frame's ``~/boxes``; None without a boxes message.
        resent: How often the frame was published again (first frame of ``--fast``, while the
            node was still discovering the replayer's subscriptions).
    """

    stamp_ns: int
    latency_ms: Optional[float] = None
    boxes_latency_ms: Optional[float] = None
    num_boxes: Optional[int] = None
    resent: int = 0

    @property
    def answered(self) -> bool:
        """Whether the node's mask for this frame arrived."""
        return self.latency_ms is not None


def _finite(value: Any) -> Optional[float]:
    value = float(value)
    return value if math.isfinite(value) else None


def stats(values: Iterable[float]) -> Dict[str, Any]:
    """Return ``{'count', 'mean', 'p50', 'p90', 'p99', 'min', 'max'}`` of the finite values.

    Percentiles use linear interpolation (``numpy.percentile``); every figure is None for an
    empty input.
    """
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if arr.size == 0:
        return {'count': 0, 'mean': None, 'p50': None, 'p90': None, 'p99': None, 'min': None,
                'max': None}
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {'count': int(arr.size), 'mean': float(arr.mean()), 'p50': float(p50),
            'p90': float(p90), 'p99': float(p99), 'min': float(arr.min()),
            'max': float(arr.max())}


def build_report(frames: Sequence[FrameRecord], *, segmentation: Optional[Dict] = None,
                 boxes: Optional[Dict] = None, node_counts: Optional[Mapping[str, int]] = None,
                 boxes_published: bool = True, unexpected_outputs: int = 0,
                 info: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Assemble the replay report.

    Args:
        frames: One record per colour frame published, in order.
        segmentation: :meth:`SegmentationScorer.summary`, or None without ground-truth masks.
        boxes: :meth:`BoxScorer.summary`, or None without ground-truth boxes.
        node_counts: The node's own counters from its last ``/diagnostics`` status during the
            replay (``received``, ``processed``, ``dropped``, ``rejected``, ``failed``), or None.
        boxes_published: Whether the node offers ``~/boxes`` (else the box figures are None).
        unexpected_outputs: Output messages whose stamp matched no input frame.
        info: Extra top-level entries (bag, mode, weights, node, timing ...), copied first.

    Returns:
        A JSON-ready dict; see :data:`REPORT_KEYS` and the command's documentation.
    """
    report: Dict[str, Any] = dict(info or {})
    answered = [f for f in frames if f.answered]
    report['frames_in'] = len(frames)
    report['frames_out'] = len(answered)
    node = dict(node_counts) if node_counts else None
    report['dropped'] = {'replay': len(frames) - len(answered),
                         'node': None if node is None else int(node.get('dropped', 0))}
    report['node_counts'] = node
    report['resent'] = int(sum(f.resent for f in frames))
    report['unexpected_outputs'] = int(unexpected_outputs)
    report['latency_ms'] = stats(f.latency_ms for f in answered)
    if boxes_published:
        counts = [f.num_boxes for f in frames if f.num_boxes is not None]
        box_stats = stats(counts)
        report['boxes_per_frame'] = {
            'frames_with_boxes_message': len(counts),
            'total': int(sum(counts)), 'mean': box_stats['mean'], 'min': box_stats['min'],
            'max': box_stats['max']}
        report['boxes_latency_ms'] = stats(f.boxes_latency_ms for f in frames)
    else:
        report['boxes_per_frame'] = None
        report['boxes_latency_ms'] = None
    if segmentation is None and boxes is None:
        report['ground_truth'] = None
    else:
        report['ground_truth'] = {'segmentation': segmentation, 'boxes': boxes}
    return report


#: The keys every report has (more are added by ``info``).
REPORT_KEYS = ('frames_in', 'frames_out', 'dropped', 'node_counts', 'resent',
               'unexpected_outputs', 'latency_ms', 'boxes_per_frame', 'boxes_latency_ms',
               'ground_truth')


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_report(report: Mapping[str, Any], path: str) -> None:
    """Write the report as indented JSON (NaN and infinities become null).

    Args:
        report: From :func:`build_report`.
        path: Output file; its folder is created.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(_json_safe(report), f, indent=2)
        f.write('\n')


def _fmt(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value * scale:.{digits}f}'
    return str(value)


def report_rows(report: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """Return the report as ``(name, value)`` text rows, in display order."""
    rows = [('frames in / out', f'{report["frames_in"]} / {report["frames_out"]}')]
    dropped = report['dropped']
    rows.append(('dropped (replay / node)', f'{dropped["replay"]} / {_fmt(dropped["node"])}'))
    node = report.get('node_counts')
    if node:
        rows.append(('node counters', ', '.join(f'{k} {v}' for k, v in node.items())))
    if report.get('resent'):
        rows.append(('resent (discovery)', str(report['resent'])))
    lat = report['latency_ms']
    rows.append(('latency p50 / p99 ms', f'{_fmt(lat["p50"])} / {_fmt(lat["p99"])}'))
    bpf = report.get('boxes_per_frame')
    if bpf is None:
        rows.append(('boxes per frame', 'n/a (the node publishes no ~/boxes)'))
    else:
        rows.append(('boxes per frame (mean, min-max)',
                     f'{_fmt(bpf["mean"], 2)} ({_fmt(bpf["min"], 0)}-{_fmt(bpf["max"], 0)}), '
                     f'{bpf["frames_with_boxes_message"]} frames'))
    gt = report.get('ground_truth')
    if gt:
        seg = gt.get('segmentation')
        if seg:
            rows.append((f'mIoU ({seg["mode"]})',
                         f'{_fmt(seg["miou"], 4)} over {seg["frames"]} frames'))
            rows.append(('per-class IoU', ', '.join(
                f'{k} {_fmt(v, 3)}' for k, v in seg['per_class_iou'].items())))
        boxes = gt.get('boxes')
        if boxes:
            rows.append(('boxes matched / missed / false',
                         f'{boxes["matched"]} / {boxes["missed"]} / {boxes["false"]} '
                         f'(expected {boxes["expected"]}; '
                         f'{boxes.get("partial", 0)} on partly visible boxes)'))
            for key, label, digits in (('center_error_mm', 'centre error mm', 1),
                                       ('size_error_mm', 'size error mm', 1),
                                       ('normal_error_deg', 'normal error deg', 2),
                                       ('yaw_error_deg', 'yaw error deg (mod 180)', 2)):
                s = boxes[key]
                rows.append((f'{label} (median, p90)',
                             f'{_fmt(s["p50"], digits)}, {_fmt(s["p90"], digits)}'))
    for key in ('node_exit_code', 'wall_s'):
        if key in report:
            rows.append((key.replace('_', ' '), _fmt(report[key], 1)))
    return rows


def print_report(report: Mapping[str, Any], file: Any = None, title: str = 'replay report'
                 ) -> None:
    """Print the report as a table (``rich``; plain text where rich is missing).

    Args:
        report: From :func:`build_report`.
        file: Text stream (default: stdout).
        title: Table title.
    """
    rows = report_rows(report)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dev requirement
        width = max(len(name) for name, _ in rows)
        print(title, file=file)
        for name, value in rows:
            print(f'  {name.ljust(width)}  {value}', file=file)
        return
    table = Table(title=title, show_header=False)
    table.add_column('what', style='bold')
    table.add_column('value')
    for name, value in rows:
        table.add_row(name, value)
    Console(file=file, width=110).print(table)
