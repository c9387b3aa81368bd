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

"""The self-describing enet_ros checkpoint format, and loading a model from it.

A checkpoint is ONE file written by ``torch.save`` of plain containers only (dict, list, str, int,
float, bool, None and tensors), so it loads with ``torch.load(..., weights_only=True)`` and never
unpickles code::

    {
      'format': 'enet_ros.checkpoint', 'format_version': 1,
      'arch': {...ENetArch fields...},                  # variant and hyperparameters
      'state_dict': {name: tensor},                      # ENet parameters and buffers (unfused)
      'classes': {'names': [...], 'colors': [[r, g, b], ...], 'ignore_index': int | None},
      'preprocessing': {'channel_order': 'RGB' | 'BGR', 'scale': float, 'mean': [..], 'std': [..],
                        'resolution': [width, height] | None, 'resize_policy': 'stretch' | ...},
      'provenance': {'source': str, 'method': str, 'metrics': {...}, ...free-form plain values},
    }

The network input is ``((image[..., channel_order] * scale) - mean) / std`` as an ``(N, 3, H, W)``
float tensor, resized to ``resolution`` (width, height) by the resize policy when one is set.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from enet_ros.model.enet import ENet, ENetArch
import torch

LOG = logging.getLogger(__name__)

FORMAT_NAME = 'enet_ros.checkpoint'
FORMAT_VERSION = 1
RESIZE_POLICIES = ('stretch', 'letterbox', 'native')
CONTAINER_KEYS = ('state_dict', 'model_state_dict', 'model', 'net', 'network', 'weights')
STRIP_PREFIXES = ('module.', '_orig_mod.')

PathLike = Union[str, os.PathLike]


class CheckpointError(ValueError):
    """A checkpoint is unreadable or does not fit the model; the message names problem and fix."""


@dataclasses.dataclass(frozen=True)
class ClassInfo:
    """Class names, display colours and the ignore index of a segmentation model.

    Attributes:
        names: One name per output channel (index = class id).
        colors: One ``(r, g, b)`` colour (0..255) per class, for overlays and colour masks.
        ignore_index: Class id excluded from training losses and from mIoU (e.g. CamVid's void =
            11), or None.
    """

    names: Tuple[str, ...]
    colors: Tuple[Tuple[int, int, int], ...]
    ignore_index: Optional[int] = None

    def __post_init__(self) -> None:
        """Validate lengths and ranges; raise CheckpointError naming the mismatch."""
        if len(self.names) != len(self.colors):
            raise CheckpointError(f'{len(self.names)} class names but {len(self.colors)} colours')
        for c in self.colors:
            if len(c) != 3 or not all(0 <= int(v) <= 255 for v in c):
                raise CheckpointError(f'class colour {c!r} is not an (r, g, b) triple in 0..255')
        if self.ignore_index is not None and not 0 <= self.ignore_index < max(
            len(self.names), 256
        ):
            raise CheckpointError(f'ignore_index {self.ignore_index} is out of range')

    @property
    def num_classes(self) -> int:
        """Number of classes (output channels)."""
        return len(self.names)

    def to_dict(self) -> Dict[str, Any]:
        """Plain-container form stored in checkpoints."""
        return {
            'names': list(self.names),
            'colors': [list(map(int, c)) for c in self.colors],
            'ignore_index': self.ignore_index,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'ClassInfo':
        """Inverse of :meth:`to_dict`."""
        return cls(
            names=tuple(str(n) for n in data['names']),
            colors=tuple(tuple(int(v) for v in c) for c in data['colors']),
            ignore_index=None if data.get('ignore_index') is None else int(data['ignore_index']),
        )


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network input, as the checkpoint was trained.

    ``input = (image[..., order] * scale - mean) / std`` per channel, layout ``(N, 3, H, W)``.

    Attributes:
        channel_order: ``'RGB'`` or ``'BGR'``: the channel order the network expects.
        scale: Multiplier applied to the uint8 values first (1/255 for 0..1 inputs, 1.0 for
            0..255).
        mean: Per-channel mean subtracted after scaling (in the network's channel order).
        std: Per-channel standard deviation divided after the mean.
        resolution: ``(width, height)`` in pixels the network was trained at, or None for any size.
        resize_policy: Default way to reach ``resolution``: ``'stretch'`` (plain resize),
            ``'letterbox'``
            (keep aspect, pad) or ``'native'`` (no resize: run at the image's own size).
    """

    channel_order: str = 'RGB'
    scale: float = 1.0 / 255.0
    mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    resolution: Optional[Tuple[int, int]] = None
    resize_policy: str = 'stretch'

    def __post_init__(self) -> None:
        """Validate the values; raise CheckpointError naming the bad one."""
        if self.channel_order not in ('RGB', 'BGR'):
            raise CheckpointError(
                f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}"
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise CheckpointError(
                f'mean and std need 3 values, got {self.mean!r} and {self.std!r}'
            )
        for name, values in (('scale', (self.scale,)), ('mean', self.mean), ('std', self.std)):
            try:
                finite = all(math.isfinite(float(v)) for v in values)
            except (TypeError, ValueError):
                finite = False
            if not finite:
                shown = self.scale if name == 'scale' else tuple(values)
                raise CheckpointError(
                    f'preprocessing {name} must be finite numbers (not NaN or infinity), got '
                    f'{shown!r}: give real values, e.g. scale 1/255, mean 0 0 0, std 1 1 1'
                )
        if any(s <= 0 for s in self.std) or self.scale <= 0:
            raise CheckpointError(
                f'scale and std must be > 0, got scale={self.scale}, std={self.std}'
            )
        if self.resolution is not None and (len(self.resolution) != 2 or min(self.resolution) < 1):
            raise CheckpointError(
                f'resolution must be (width, height) >= 1, got {self.resolution!r}'
            )
        if self.resize_policy not in RESIZE_POLICIES:
            raise CheckpointError(
                f'resize_policy must be one of {RESIZE_POLICIES}, got {self.resize_policy!r}'
            )

    def to_dict(self) -> Dict[str, Any]:
        """Plain-container form stored in checkpoints."""
        return {
            'channel_order': self.channel_order,
            'scale': float(self.scale),
            'mean': [float(v) for v in self.mean],
            'std': [float(v) for v in self.std],
            'resolution': None if self.resolution is None else [int(v) for v in self.resolution],
            'resize_policy': self.resize_policy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'Preprocessing':
        """Inverse of :meth:`to_dict`."""
        res = data.get('resolution')
        return cls(
            channel_order=str(data.get('channel_order', 'RGB')),
            scale=float(data.get('scale', 1 / 255)),
            mean=tuple(float(v) for v in data.get('mean', (0, 0, 0))),
            std=tuple(float(v) for v in data.get('std', (1, 1, 1))),
            resolution=None if res is None else (int(res[0]), int(res[1])),
            resize_policy=str(data.get('resize_policy', 'stretch')),
        )


@dataclasses.dataclass
class CheckpointMeta:
    """Everything in a checkpoint except the weights.

    Attributes:
        arch: Network variant and hyperparameters.
        classes: Class names, colours, ignore index.
        preprocessing: Input preprocessing.
        provenance: Where the weights came from, how they were converted or trained, measured
            metrics (plain containers, free-form; see the README's checkpoint section for the keys
            we write).
        path: File the metadata was read from (not stored).
    """

    arch: ENetArch
    classes: ClassInfo
    preprocessing: Preprocessing
    provenance: Dict[str, Any] = dataclasses.field(default_factory=dict)
    path: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """Plain-container form (without the weights)."""
        return {
            'format': FORMAT_NAME,
            'format_version': FORMAT_VERSION,
            'arch': self.arch.to_dict(),
            'classes': self.classes.to_dict(),
            'preprocessing': self.preprocessing.to_dict(),
            'provenance': _plain(self.provenance),
        }


def _plain(value: Any) -> Any:
    """Convert tuples and NumPy scalars to plain containers that ``weights_only=True`` loads."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # str subclasses (e.g. torch.__version__) would need unpickling code
    if hasattr(value, 'item') and not isinstance(value, torch.Tensor):
        return value.item()
    return value


def unwrap_state_dict(obj: Any) -> Dict[str, torch.Tensor]:
    """Return the tensor dict inside a loaded checkpoint object.

    Unwraps ``{'state_dict': ...}``, ``{'model': ...}`` (and the other usual container keys,
    nested) and strips ``module.`` (DataParallel / DistributedDataParallel) and ``_orig_mod.``
    (torch.compile) prefixes.

    Raises:
        CheckpointError: If no dict of tensors is found.
    """
    seen = 0
    while isinstance(obj, Mapping) and seen < 4:
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj, seen = inner, seen + 1
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            'no state_dict found: expected a dict of tensors, or one under one of the keys '
            f'{list(CONTAINER_KEYS)}'
        )
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f'no tensors in the checkpoint dict (keys: {sorted(obj)[:10]})')
    out = {}
    for key, value in tensors.items():
        changed = True
        while changed:
            changed = False
            for prefix in STRIP_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def read_torch_file(path: PathLike) -> Any:
    """Load a file with ``torch.load`` (CPU, ``weights_only=True``); clear error if that fails.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If ``path`` is a directory, the file is not a PyTorch file (corrupt,
            empty, another format) or it holds pickled code.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(
            f'checkpoint {path!r} is a directory, expected a checkpoint file (.pt / .pth): '
            'give the file inside it'
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except (
        Exception
    ) as exc:  # torch raises several types (UnpicklingError, RuntimeError, EOFError)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0] if lines else ''
        for k, line in enumerate(lines):
            if 'WeightsUnpickler error:' in line:
                rest = line.split('WeightsUnpickler error:', 1)[1].strip()
                reason = rest or (lines[k + 1] if k + 1 < len(lines) else '')
                break
        with open(path, 'rb') as f:
            head = f.read(2)
        # A bare Python pickle starts with PROTO (0x80) and its protocol number.
        plain_pickle = len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5
        if 'Unsupported global' in reason or plain_pickle:
            # A real pickle that needs code (classes, functions) or opcodes the safe loader lacks.
            raise CheckpointError(
                f'cannot read {path!r} as a PyTorch weights file with weights_only=True '
                f'({reason}). Files holding pickled code are refused; re-save the state_dict '
                'only (torch.save(model.state_dict(), path)).'
            ) from exc
        # Not a PyTorch file at all: torch's advice to retry with weights_only=False would not
        # help (and would run untrusted code), so only the low-level reason is kept.
        if not head:
            reason = 'the file is empty'
        raise CheckpointError(
            f'{path!r} is not a PyTorch checkpoint (corrupt, truncated or another kind of file; '
            f'{type(exc).__name__}: {reason or "unreadable"}): check the path, or download / '
            'copy the file again'
        ) from exc


def is_enet_ros_checkpoint(obj: Any) -> bool:
    """Whether a loaded object is in the enet_ros checkpoint format."""
    return isinstance(obj, Mapping) and obj.get('format') == FORMAT_NAME


def save_checkpoint(
    path: PathLike, model_or_state: Union[ENet, Mapping[str, torch.Tensor]], meta: CheckpointMeta
) -> None:
    """Write a checkpoint (weights + metadata) to ``path`` atomically.

    Args:
        path: Output file (``.pt``); parent directories are created.
        model_or_state: An unfused :class:`ENet` or its state_dict.
        meta: The metadata; ``meta.arch.num_classes`` must equal ``meta.classes.num_classes``.

    Raises:
        CheckpointError: If the model is fused, the class count does not match the architecture
            or ``path`` is a directory.
    """
    if isinstance(model_or_state, ENet):
        if model_or_state.fused:
            raise CheckpointError('refusing to save a fused model: save before calling fuse()')
        state = model_or_state.state_dict()
    else:
        state = dict(model_or_state)
    if meta.arch.num_classes != meta.classes.num_classes:
        raise CheckpointError(
            f'the network predicts {meta.arch.num_classes} classes but {meta.classes.num_classes}'
            ' class names were given'
        )
    payload = meta.to_dict()
    payload['state_dict'] = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f'cannot save the checkpoint to {path!r}: it is a directory; give '
                              'a file name (e.g. model.pt)')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_checkpoint(path: PathLike) -> Tuple[Dict[str, torch.Tensor], CheckpointMeta]:
    """Read an enet_ros checkpoint: its state_dict and its metadata.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file is not an enet_ros checkpoint (a third-party file needs
            ``enet-ros convert`` first) or its version is newer than this code.
    """
    obj = read_torch_file(path)
    if not is_enet_ros_checkpoint(obj):
        raise CheckpointError(
            f'{os.fspath(path)!r} is not an enet_ros checkpoint (no format tag). If it is a '
            'third-party ENet checkpoint, convert it first: enet-ros convert SRC DST'
        )
    version = int(obj.get('format_version', 0))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f'{os.fspath(path)!r} has checkpoint format version {version}; this enet_ros reads '
            f'up to {FORMAT_VERSION}: upgrade enet_ros'
        )
    meta = CheckpointMeta(
        arch=ENetArch.from_dict(obj['arch']),
        classes=ClassInfo.from_dict(obj['classes']),
        preprocessing=Preprocessing.from_dict(obj['preprocessing']),
        provenance=dict(obj.get('provenance') or {}),
        path=os.fspath(path),
    )
    return migrate_state_dict(dict(obj['state_dict']), version), meta


def migrate_state_dict(state: Dict[str, torch.Tensor], version: int) -> Dict[str, torch.Tensor]:
    """Rename keys written by older checkpoint format versions to the current names.

    Key names are a public API: a future rename adds a step here (from ``version`` to the next)
    instead of breaking old files. Version 1 is the first, so there is nothing to migrate yet.
    """
    return state


def load_state_dict_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load ``state`` into ``model`` strictly, reporting every mismatch by name.

    Raises:
        CheckpointError: Listing missing keys, unexpected keys and shape mismatches (name: expected
            vs got).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f'{k}: model {tuple(own[k].shape)} vs checkpoint {tuple(state[k].shape)}'
        for k in sorted(set(own) & set(state))
        if own[k].shape != state[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing keys: {_short(missing)}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys: {_short(unexpected)}')
        if shapes:
            parts.append(f'{len(shapes)} shape mismatches: {_short(shapes)}')
        raise CheckpointError(
            'state_dict does not match the ENet architecture: ' + '; '.join(parts)
        )
    model.load_state_dict(state, strict=True)


def _short(items: Sequence[str], limit: int = 12) -> str:
    shown = ', '.join(items[:limit])
    return shown + (f', ... (+{len(items) - limit} more)' if len(items) > limit else '')


def build_model(meta: CheckpointMeta, state: Optional[Mapping[str, torch.Tensor]] = None) -> ENet:
    """Make an :class:`ENet` from metadata (and load ``state`` strictly when given)."""
    model = ENet(meta.arch)
    if state is not None:
        load_state_dict_strict(model, state)
    model.meta = meta
    return model


def load_model(
    path: PathLike, device: Union[str, torch.device] = 'cpu', fuse: bool = False
) -> ENet:
    """Load an enet_ros checkpoint as an :class:`ENet` in eval mode.

    Args:
        path: The checkpoint file (see the module docstring for the format).
        device: Torch device to put the model on (``'cpu'``, ``'cuda'``, ``'cuda:1'`` ...).
        fuse: Fold BatchNorm into the convolutions (inference only).

    Returns:
        The network in eval mode; forward maps a preprocessed ``(N, 3, H, W)`` float tensor to
        logits ``(N, C, H, W)``. ``model.meta`` holds the :class:`CheckpointMeta` (classes,
        colours, ignore index, preprocessing, provenance).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file is not a readable enet_ros checkpoint or does not match its
            arch.
    """
    state, meta = read_checkpoint(path)
    model = build_model(meta, state).eval()
    if meta.provenance.get('needs_bn_repair'):
        LOG.warning(
            '%s shares BatchNorm statistics between layers (seed-code layout) and was not '
            'repaired: eval-mode accuracy is poor. Repair it: '
            'enet-ros convert SRC DST --recalibrate-bn IMAGE_DIR',
            os.fspath(path),
        )
    if fuse:
        model.fuse()
    return model.to(device)


def describe(meta: CheckpointMeta) -> List[str]:
    """Human-readable lines describing a checkpoint (for logs and ``enet-ros info``)."""
    p = meta.preprocessing
    lines = [
        f'arch: ENet variant={meta.arch.variant} classes={meta.arch.num_classes}',
        f'classes: {", ".join(meta.classes.names)} (ignore_index={meta.classes.ignore_index})',
        f'preprocessing: {p.channel_order} x{p.scale:g} mean={list(p.mean)} std={list(p.std)} '
        f'resolution={p.resolution} resize={p.resize_policy}',
    ]
    for key in ('source', 'method', 'metrics'):
        if key in meta.provenance:
            lines.append(f'{key}: {meta.provenance[key]}')
    return lines
