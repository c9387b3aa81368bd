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

"""The ``enet`` node's parameters: one table, declared with descriptors, validated purely.

:data:`PARAMS` is the single definition of every parameter (name, default, description, range,
choices, read-only). The node declares them all from it with ``ParameterDescriptor`` (ranges as
``IntegerRange`` / ``FloatingPointRange``, so rclpy enforces them and ``ros2 param describe``
shows them), rejects runtime changes with the reason :func:`validate` gives, and acts on accepted
changes in its post-set callback. Parameters marked read-only need a reload (they choose the
model, backend, subscriptions or QoS); the others change at runtime.

Only :func:`descriptor` and :func:`declare_all` touch ROS (``rcl_interfaces`` / rclpy, imported
inside them), so the table, :func:`validate`, :func:`validate_all` and :func:`resolve_weights`
are unit-tested without a node.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

PACKAGE_NAME = 'enet_ros'
#: The shipped default model (``weights`` empty means this).
DEFAULT_WEIGHTS_URL = 'package://enet_ros/models/enet_boxes.pt'
BACKENDS = ('torch', 'onnxruntime', 'tensorrt')
PRECISIONS = ('fp32', 'fp16', 'bf16')
_DEVICE_RE = re.compile(r'^(cpu|cuda(:\d+)?)$')


def _check_device(value: Any) -> Optional[str]:
    if not _DEVICE_RE.match(str(value)):
        return f"{value!r} is not 'cpu', 'cuda' or 'cuda:N'"
    return None


def _check_resolution(value: Any) -> Optional[str]:
    values = list(value)
    if len(values) != 2 or any(v < 0 for v in values) or (0 in values and values != [0, 0]):
        return (f'{values} is not [width, height] in pixels (both >= 1), or [0, 0] for the '
                "checkpoint's resolution")
    if values != [0, 0] and (values[0] % 8 or values[1] % 8):
        return f'{values}: ENet needs a width and height divisible by 8 (e.g. [640, 480])'
    return None


def _check_box_class_ids(value: Any) -> Optional[str]:
    values = list(value)
    if not values or any(v < 0 or v > 65535 for v in values):
        return f'{values} is not a non-empty list of class ids in [0, 65535]'
    if len(set(values)) != len(values):
        return f'{values} lists a class id twice'
    return None


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter of the node.

    Attributes:
        name: Parameter name.
        default: Default value; its Python type is the parameter type (bool, int, float, str,
            or a list of int).
        description: What it does, with units.
        read_only: True when a change needs a reload (set at start-up only).
        choices: Allowed values for a string parameter (empty: any).
        value_range: Inclusive ``(min, max)`` for an int or float parameter.
        required: Every shipped config file must set it (the tests check).
        check: Extra pure check returning a reason, or None when the value is fine.
    """

    name: str
    default: Any
    description: str
    read_only: bool = False
    choices: Tuple[str, ...] = ()
    value_range: Optional[Tuple[float, float]] = None
    required: bool = False
    check: Optional[Callable[[Any], Optional[str]]] = None

    @property
    def kind(self) -> type:
        """Python type of the value: bool, int, float, str or list."""
        return type(self.default)

    @property
    def runtime(self) -> bool:
        """Whether the parameter can change while the node runs."""
        return not self.read_only


_RO = {'read_only': True}
#: Every parameter of the ``enet`` node, in the order of config/enet.yaml.
PARAMS: Tuple[ParamSpec, ...] = (
    # --- model and backend (read-only: a change needs a reload)
    ParamSpec('weights', '',
              'enet_ros checkpoint: a file path (~ expanded), a package://PKG/REL URL, or empty '
              f'for the shipped default {DEFAULT_WEIGHTS_URL}', required=True, **_RO),
    ParamSpec('backend', 'torch', 'inference backend', choices=BACKENDS, required=True, **_RO),
    ParamSpec('device', 'cpu', "'cpu', 'cuda' or 'cuda:N'", required=True, check=_check_device,
              **_RO),
    ParamSpec('precision', 'fp32', 'inference precision', choices=PRECISIONS, required=True,
              **_RO),
    ParamSpec('resize_policy', '',
              "how images reach the network resolution; empty: the checkpoint's",
              choices=('', 'stretch', 'letterbox', 'native'), required=True, **_RO),
    ParamSpec('resolution', [0, 0],
              "network input [width, height] in pixels, divisible by 8; [0, 0]: the checkpoint's",
              check=_check_resolution, **_RO),
    ParamSpec('engine_cache_dir', '',
              'TensorRT engine cache directory (~ expanded); empty: the backend default', **_RO),
    ParamSpec('num_threads', 0, 'CPU threads for torch (torch.set_num_threads); 0: torch default',
              value_range=(0, 256), **_RO),
    ParamSpec('warmup', True, 'run the model once at start-up (at the network resolution)', **_RO),
    # --- inputs (read-only: they set up the subscriptions)
    ParamSpec('input_transport', 'raw',
              "'raw': sensor_msgs/Image on 'image'; 'compressed': CompressedImage on "
              "'<image>/compressed' (image_transport naming)", choices=('raw', 'compressed'),
              required=True, **_RO),
    ParamSpec('untyped_channel_order', 'bgr', 'channel order assumed for 8UC3 / 8UC4 input',
              choices=('bgr', 'rgb'), **_RO),
    ParamSpec('use_depth', False,
              "subscribe to the aligned depth image 'depth' (16UC1 mm or 32FC1 m) and pair it "
              'with each colour frame by stamp', required=True, **_RO),
    ParamSpec('sync_slop_s', 0.02,
              'largest stamp difference between a colour and its depth frame, seconds',
              value_range=(0.0, 1.0), **_RO),
    ParamSpec('sync_queue_size', 10, 'colour and depth frames kept while pairing',
              value_range=(1, 100), **_RO),
    ParamSpec('qos_reliability', 'best_effort',
              'input QoS reliability (best_effort connects to best-effort and reliable '
              'publishers)', choices=('best_effort', 'reliable'), required=True, **_RO),
    ParamSpec('qos_depth', 1, 'input and output QoS history depth', value_range=(1, 100),
              required=True, **_RO),
    ParamSpec('diagnostics_period_s', 1.0, 'period of the /diagnostics status, seconds',
              value_range=(0.05, 60.0), **_RO),
    # --- outputs and thresholds (change at runtime)
    ParamSpec('publish_mask', True, 'publish ~/mask (mono8 class ids; mono16 above 255 classes)'),
    ParamSpec('publish_confidence', True, 'publish ~/confidence'),
    ParamSpec('confidence_encoding', 'mono8',
              "~/confidence encoding: 'mono8' (round(255 p)) or '32FC1' (p in [0, 1])",
              choices=('mono8', '32FC1')),
    ParamSpec('confidence_threshold', 0.0,
              "pixels with confidence below this get the checkpoint's ignore class (0 without "
              'one) in ~/mask; 0 disables it', value_range=(0.0, 1.0)),
    ParamSpec('publish_overlay', True,
              'publish ~/overlay (computed only while someone subscribes)'),
    ParamSpec('overlay_alpha', 0.5, 'weight of the class colours in ~/overlay',
              value_range=(0.0, 1.0)),
    ParamSpec('input_timeout_s', 5.0, 'diagnostics WARN after this long without input, seconds',
              value_range=(0.1, 3600.0)),
    ParamSpec('drop_warn_ratio', 0.5,
              'diagnostics WARN when more than this fraction of input frames is dropped',
              value_range=(0.0, 1.0)),
    ParamSpec('log_throttle_s', 5.0,
              'minimum seconds between repeated per-frame warnings and errors',
              value_range=(0.0, 3600.0)),
    # --- box (carton) poses: ~/boxes, ~/markers, ~/detections (change at runtime)
    ParamSpec('publish_boxes', True,
              'estimate box poses (needs use_depth, or working_plane_z_m) and publish ~/boxes, '
              '~/markers and ~/detections (computed only while someone subscribes)'),
    ParamSpec('box_class_ids', [1],
              'class ids of box pixels in the model output (the shipped model: 1 = box)',
              check=_check_box_class_ids),
    ParamSpec('boundary_class_id', 2,
              'class id that separates touching boxes (the shipped model: 2 = box_boundary); '
              '-1: none', value_range=(-1, 65535)),
    ParamSpec('min_box_pixels', 200, 'smallest box instance reported, pixels',
              value_range=(1, 10_000_000)),
    ParamSpec('use_color_edges', True,
              'also split touching boxes at thin dark lines of the colour image (it must be '
              'registered to the depth)'),
    ParamSpec('box_fit_stride', 2,
              'box geometry on every n-th pixel in rows and columns (1: all pixels; 2 is about 3x '
              'faster and loses about a millimetre)', value_range=(1, 8)),
    ParamSpec('working_plane_z_m', 0.0,
              'without depth: metric box poses with the top faces on the plane z = this in the '
              'camera optical frame (a camera looking straight down), metres; 0 disables',
              value_range=(0.0, 100.0)),
    ParamSpec('target_frame', '',
              'frame of the box outputs (transformed with tf2 at the image stamp); empty: the '
              "image's frame (camera optical frame)"),
    ParamSpec('tf_timeout_s', 0.05,
              'longest wait for the transform to target_frame at the image stamp, seconds',
              value_range=(0.0, 10.0)),
    ParamSpec('box_marker_lifetime_s', 1.0,
              '~/markers lifetime, seconds (each frame also deletes the previous markers); '
              '0: until deleted', value_range=(0.0, 3600.0)),
)
SPECS: Dict[str, ParamSpec] = {spec.name: spec for spec in PARAMS}
DEFAULTS: Dict[str, Any] = {spec.name: spec.default for spec in PARAMS}
READ_ONLY = tuple(spec.name for spec in PARAMS if spec.read_only)
RUNTIME = tuple(spec.name for spec in PARAMS if spec.runtime)
REQUIRED = tuple(spec.name for spec in PARAMS if spec.required)

_TYPE_WORDS = {bool: 'a bool (true / false)', int: 'an integer', float: 'a floating-point number',
               str: 'a string', list: 'a list of integers'}


def _type_ok(spec: ParamSpec, value: Any) -> bool:
    if spec.kind is bool:
        return isinstance(value, bool)
    if spec.kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.kind is float:
        return isinstance(value, float)
    if spec.kind is str:
        return isinstance(value, str)
    return (isinstance(value, (list, tuple)) or hasattr(value, 'tolist')) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in list(value))


def validate(name: str, value: Any) -> Optional[str]:
    """Check one parameter value.

    Args:
        name: Parameter name (one of :data:`SPECS`).
        value: Proposed value (Python types as rclpy gives them; int arrays may be
            ``array.array``).

    Returns:
        None when the value is acceptable, else a readable reason naming the parameter, the
        value and what is allowed.
    """
    spec = SPECS.get(name)
    if spec is None:
        return f'{name}: unknown parameter (known: {", ".join(SPECS)})'
    if not _type_ok(spec, value):
        hint = ' (write 1.0, not 1)' if spec.kind is float and isinstance(value, int) else ''
        return (f'{name}: expected {_TYPE_WORDS[spec.kind]}, got {type(value).__name__} '
                f'{value!r}{hint}')
    if spec.choices and value not in spec.choices:
        return f'{name}: {value!r} is not one of {", ".join(repr(c) for c in spec.choices)}'
    if spec.value_range is not None and not spec.value_range[0] <= value <= spec.value_range[1]:
        return f'{name}: {value} is outside [{spec.value_range[0]}, {spec.value_range[1]}]'
    if spec.check is not None:
        reason = spec.check(value)
        if reason:
            return f'{name}: {reason}'
    return None


def validate_all(values: Mapping[str, Any]) -> List[str]:
    """Check a full configuration: each value, then the combinations.

    Args:
        values: Parameter values by name; missing names take their defaults.

    Returns:
        Readable reasons, empty when the configuration is acceptable.
    """
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in values.items() if k in SPECS})
    problems = [reason for reason in (validate(k, v) for k, v in merged.items()) if reason]
    if problems:
        return problems
    if merged['backend'] == 'tensorrt' and merged['device'] == 'cpu':
        problems.append("backend 'tensorrt' runs on CUDA devices only: set device to 'cuda' "
                        "(or use backend 'torch' or 'onnxruntime' on the CPU)")
    if merged['boundary_class_id'] in list(merged['box_class_ids']):
        problems.append(f"boundary_class_id {merged['boundary_class_id']} is also in "
                        f"box_class_ids {list(merged['box_class_ids'])}: a class is either box "
                        'or boundary (set boundary_class_id to -1 for none)')
    return problems


def descriptor(spec: ParamSpec) -> Any:
    """Return the ``rcl_interfaces/ParameterDescriptor`` of a parameter.

    Args:
        spec: The parameter.

    Returns:
        A descriptor with the description (choices appended), ``additional_constraints``, the
        integer or floating-point range and ``read_only``.
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    text = spec.description
    constraints = ''
    if spec.choices:
        constraints = 'one of: ' + ', '.join(repr(c) for c in spec.choices)
    elif spec.name == 'box_class_ids':
        constraints = 'non-empty list of distinct class ids, none equal to boundary_class_id'
    elif spec.check is not None and spec.kind is list:
        constraints = '[width, height], both divisible by 8, or [0, 0]'
    desc = ParameterDescriptor(name=spec.name, description=text,
                               additional_constraints=constraints, read_only=spec.read_only)
    if spec.value_range is not None and spec.kind is int:
        desc.integer_range = [IntegerRange(from_value=int(spec.value_range[0]),
                                           to_value=int(spec.value_range[1]), step=1)]
    elif spec.value_range is not None and spec.kind is float:
        low, high = spec.value_range
        desc.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                        to_value=float(high), step=0.0)]
    return desc


class ParameterError(ValueError):
    """The node's parameters are invalid; the message lists every problem and the fix."""


def declare_all(node: Any) -> Dict[str, Any]:
    """Declare every parameter of :data:`PARAMS` on ``node`` and return the validated values.

    Values come from parameter overrides (``--ros-args -p``, ``--params-file``, launch) or the
    defaults.

    Args:
        node: An ``rclpy.node.Node``.

    Returns:
        ``{name: value}`` with int arrays as Python lists.

    Raises:
        ParameterError: Listing every rejected value (out of range, wrong type, bad choice).
    """
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
    problems = []
    values = {}
    for spec in PARAMS:
        try:
            param = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except InvalidParameterTypeException as exc:
            hint = ' (write 1.0, not 1)' if spec.kind is float else ''
            problems.append(f'{spec.name}: expected {_TYPE_WORDS[spec.kind]}{hint} ({exc})')
            continue
        except InvalidParameterValueException as exc:
            problems.append(f'{spec.name}: rejected by its descriptor ({exc})')
            continue
        value = param.value
        values[spec.name] = list(value) if spec.kind is list else value
        reason = validate(spec.name, values[spec.name])
        if reason:
            problems.append(reason)
    if not problems:
        problems = validate_all(values)
    if problems:
        raise ParameterError('invalid parameters of node %r:\n  %s' % (
            node.get_fully_qualified_name(), '\n  '.join(problems)))
    return values


# --------------------------------------------------------------------------- weights


def _share_directory(package: str) -> Optional[Path]:
    """Return the installed share directory of ``package``, or None (not installed / no index)."""
    try:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
    except ImportError:  # pragma: no cover - ament_index_python comes with rclpy
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, LookupError, OSError, ValueError):
        return None


def weights_candidates(value: str, share_directory: Callable[[str], Optional[Path]] = None,
                       source_root: Optional[Path] = None) -> List[Path]:
    """Return the files a ``weights`` value may mean, in the order they are tried.

    Args:
        value: The parameter: empty (the shipped default), ``package://PKG/REL`` or a path.
        share_directory: Lookup of a package's share directory (default: ament_index_python).
        source_root: Repository root of an editable install (default: this file's repository).

    Returns:
        Candidate paths; for ``package://enet_ros/...`` the installed share directory first,
        then the repository (editable install).

    Raises:
        ValueError: A ``package://`` URL without a path inside the package.
    """
    share_directory = share_directory or _share_directory
    source_root = source_root or Path(__file__).resolve().parents[2]
    value = value.strip() or DEFAULT_WEIGHTS_URL
    if not value.startswith('package://'):
        return [Path(os.path.expanduser(value)).absolute()]
    package, _, relative = value[len('package://'):].partition('/')
    if not package or not relative:
        raise ValueError(f'weights {value!r}: expected package://PACKAGE/PATH/IN/PACKAGE')
    candidates = []
    share = share_directory(package)
    if share is not None:
        candidates.append(share / relative)
    if package == PACKAGE_NAME:
        candidates.append(source_root / relative)
    return candidates


def resolve_weights(value: str, **lookup: Any) -> Path:
    """Return the checkpoint file a ``weights`` parameter names.

    Args:
        value: The parameter value (see :func:`weights_candidates`).
        **lookup: ``share_directory`` / ``source_root`` overrides (tests).

    Returns:
        The absolute path of an existing file.

    Raises:
        FileNotFoundError: No candidate exists; the message names where it looked and the fix.
    """
    candidates = weights_candidates(value, **lookup)
    for path in candidates:
        if path.is_file():
            return path
    shown = value.strip() or f'(empty: the shipped default {DEFAULT_WEIGHTS_URL})'
    looked = ', '.join(str(p) for p in candidates) or 'nowhere (package not found)'
    if not value.strip() or value.strip() == DEFAULT_WEIGHTS_URL:
        fix = ('The shipped model models/enet_boxes.pt is missing from this installation: '
               'rebuild/reinstall enet_ros with it, or point the node at a checkpoint with '
               '--ros-args -p weights:=/path/to/model.pt (convert third-party weights with '
               'enet-ros convert SRC DST)')
    else:
        fix = ('Set the weights parameter to an existing enet_ros checkpoint, e.g. '
               '--ros-args -p weights:=/path/to/model.pt')
    raise FileNotFoundError(f'weights {shown}: no such file; looked at {looked}. {fix}')


def segmenter_kwargs(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Map parameter values to :class:`~enet_ros.inference.segmenter.Segmenter` keyword arguments.

    Args:
        values: Validated parameter values (weights already resolved or not: not included).

    Returns:
        ``backend``, ``device``, ``precision``, ``resize_policy`` (None: the checkpoint's),
        ``resolution`` (None: the checkpoint's), ``warmup`` and, for the TensorRT backend with
        a cache directory set, ``engine_cache_dir`` (``~`` expanded).
    """
    resolution: Optional[Sequence[int]] = list(values.get('resolution', [0, 0]))
    kwargs = {'backend': values['backend'], 'device': values['device'],
              'precision': values['precision'],
              'resize_policy': values.get('resize_policy') or None,
              'resolution': None if resolution == [0, 0] else tuple(resolution),
              'warmup': bool(values.get('warmup', True))}
    cache = values.get('engine_cache_dir', '')
    if cache and values['backend'] == 'tensorrt':
        kwargs['engine_cache_dir'] = os.path.expanduser(cache)
    return kwargs


def box_config_kwargs(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Map parameter values to :class:`~enet_ros.boxes.BoxEstimatorConfig` keyword arguments.

    Args:
        values: Validated parameter values.

    Returns:
        ``box_class_ids``, ``boundary_class_ids`` (empty for ``boundary_class_id`` -1),
        ``min_pixels``, ``use_color_edges``, ``fit_stride``, ``working_plane`` (the plane
        ``z = working_plane_z_m`` with its normal towards the camera, ``(0, 0, -1, z)``; None
        for 0) and ``label_image`` False (the node publishes poses, not the instance image).
    """
    boundary = int(values.get('boundary_class_id', 2))
    plane_z = float(values.get('working_plane_z_m', 0.0))
    return {'box_class_ids': tuple(int(c) for c in values.get('box_class_ids', [1])),
            'boundary_class_ids': () if boundary < 0 else (boundary,),
            'min_pixels': int(values.get('min_box_pixels', 200)),
            'use_color_edges': bool(values.get('use_color_edges', True)),
            'fit_stride': int(values.get('box_fit_stride', 2)),
            'working_plane': (0.0, 0.0, -1.0, plane_z) if plane_z > 0 else None,
            'label_image': False}
