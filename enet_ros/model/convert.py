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

"""Convert public ENet checkpoints (third-party key layouts) into the enet_ros format.

Layouts (state_dict key conventions of published ENet code):

* ``seed``: the seed document's code (iArunava/ENet-Real-Time-Semantic-Segmentation before
  2020-09): keys ``init.conv.weight``, ``b10.conv1.weight`` ... ``fullconv.weight``. Each
  bottleneck reuses ONE BatchNorm (``batchnorm``) after two different convolutions, and one
  activation module in several places. The conversion gives each use its own module with the same
  values, so the converted model reproduces the original graph exactly; the shared running
  statistics are a blend of two layers' statistics, which is why such checkpoints need
  :func:`enet_ros.model.bn_repair.recalibrate_batchnorm` (``--recalibrate-bn``).
* ``ntkhoa95``: ntkhoa95/ENet_PyTorch (``initial.conv``, ``b10.norm1`` ...): the seed's structure
  with one BatchNorm per use.
* ``davidtvs-2018``: davidtvs/PyTorch-ENet as of March 2018 (PReLU in the decoder too, per-channel
  ``out_prelu``, 3x3 transposed convolution ``ext_conv2`` in upsampling bottlenecks, 3x3 stride-2
  max pooling with padding 1 in the initial block and on the downsampling main branch). The pooling
  windows are not in the keys; they were identified by evaluation: 3x3 everywhere gives the
  published file 0.533 mIoU on CamVid test (2x2 in the downsampling bottlenecks: 0.483).
* ``davidtvs``: davidtvs/PyTorch-ENet's current code (``ext_tconv1`` 2x2 transposed convolution,
  ReLU decoder, ``out_prelu`` or ``out_activation``, 3x3 max pooling in the initial block).

Wrapped checkpoints (``{'state_dict': ...}``, ``{'model': ...}``) and ``module.`` / ``_orig_mod.``
prefixes are handled by :func:`enet_ros.model.checkpoint.unwrap_state_dict`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
from typing import Callable, Dict, List, Optional, Set, Tuple

from enet_ros.model.checkpoint import (build_model, CheckpointError, CheckpointMeta, ClassInfo,
                                       is_enet_ros_checkpoint, Preprocessing, read_torch_file,
                                       unwrap_state_dict)
from enet_ros.model.enet import ENet, ENetArch
import torch

LAYOUTS = ('seed', 'davidtvs-2018', 'davidtvs', 'ntkhoa95')

# Training-time preprocessing of each published code base (read from their data loaders).
DEFAULT_PREPROCESSING = {
    'davidtvs-2018': Preprocessing('RGB', 1 / 255, resolution=(480, 360)),
    'davidtvs': Preprocessing('RGB', 1 / 255, resolution=(480, 360)),
    'seed': Preprocessing('RGB', 1 / 255, resolution=(512, 512)),
    'ntkhoa95': Preprocessing('RGB', 1.0, resolution=(512, 512)),
}

# Our block names in network order, and what kind of block each is.
_OUR_BLOCKS: List[Tuple[str, str]] = (
    [('bottleneck1_0', 'down')]
    + [(f'bottleneck1_{i}', 'regular') for i in range(1, 5)]
    + [('bottleneck2_0', 'down')]
    + [
        (f'bottleneck{s}_{i}', 'asymmetric' if i in (3, 7) else 'regular')
        for s in (2, 3)
        for i in range(1, 9)
    ]
    + [
        ('bottleneck4_0', 'up'),
        ('bottleneck4_1', 'regular'),
        ('bottleneck4_2', 'regular'),
        ('bottleneck5_0', 'up'),
        ('bottleneck5_1', 'regular'),
    ]
)
_SEED_BLOCKS = (
    ['b10', 'b11', 'b12', 'b13', 'b14']
    + [f'b2{i}' for i in range(9)]
    + [f'b3{i}' for i in range(1, 9)]
    + ['b40', 'b41', 'b42', 'b50', 'b51']
)
_DAVIDTVS_BLOCKS = (
    ['downsample1_0']
    + [f'regular1_{i}' for i in range(1, 5)]
    + [
        'downsample2_0',
        'regular2_1',
        'dilated2_2',
        'asymmetric2_3',
        'dilated2_4',
        'regular2_5',
        'dilated2_6',
        'asymmetric2_7',
        'dilated2_8',
        'regular3_0',
        'dilated3_1',
        'asymmetric3_2',
        'dilated3_3',
        'regular3_4',
        'dilated3_5',
        'asymmetric3_6',
        'dilated3_7',
        'upsample4_0',
        'regular4_1',
        'regular4_2',
        'upsample5_0',
        'regular5_1',
    ]
)
_DECODER = {'bottleneck4_0', 'bottleneck4_1', 'bottleneck4_2', 'bottleneck5_0', 'bottleneck5_1'}


class LayoutError(CheckpointError):
    """The state_dict does not fit a layout; ``unplaced`` / ``missing`` name the keys."""

    def __init__(self, layout: str, unplaced: List[str], missing: List[str]) -> None:
        # unplaced: sorted; missing: in network order (first occurrence), so the message starts
        # early.
        self.layout, self.unplaced = layout, sorted(unplaced)
        self.missing = list(dict.fromkeys(missing))
        msg = f'layout {layout!r}: '
        if self.unplaced:
            msg += f'{len(self.unplaced)} keys it could not place: {_short(self.unplaced)}'
        if self.missing:
            msg += (
                ('; ' if self.unplaced else '')
                + f'{len(self.missing)} keys it needs but the file lacks: '
                f'{_short(self.missing)}'
            )
        super().__init__(msg)


def _short(items: List[str], limit: int = 10) -> str:
    return ', '.join(items[:limit]) + (
        f', ... (+{len(items) - limit} more)' if len(items) > limit else ''
    )


class _Mapper:
    """Collects target tensors from a source state_dict and tracks which source keys were used."""

    def __init__(self, layout: str, src: Dict[str, torch.Tensor]) -> None:
        self.layout, self.src = layout, src
        self.out: Dict[str, torch.Tensor] = {}
        self.used: Set[str] = set()
        self.missing: List[str] = []
        self.shared_bn: List[str] = []

    def has(self, key: str) -> bool:
        return key in self.src

    def get(self, key: str) -> Optional[torch.Tensor]:
        if key not in self.src:
            self.missing.append(key)
            return None
        self.used.add(key)
        return self.src[key]

    def put(self, dst: str, src: str, transform: Optional[Callable] = None) -> None:
        value = self.get(src)
        if value is not None:
            self.out[dst] = transform(value) if transform else value

    def conv(self, dst: str, src: str, bias: bool = False, transpose_1x1: bool = False) -> None:
        """Copy a conv's weight (and bias); ``transpose_1x1``: 1x1 ConvTranspose2d -> Conv2d."""
        self.put(
            f'{dst}.weight',
            f'{src}.weight',
            (lambda w: w.transpose(0, 1).contiguous()) if transpose_1x1 else None,
        )
        if bias:
            self.put(f'{dst}.bias', f'{src}.bias')

    def bn(self, dst: str, src: str) -> None:
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            self.put(f'{dst}.{name}', f'{src}.{name}')
        tracked = f'{src}.num_batches_tracked'
        if tracked in self.src:
            self.used.add(tracked)
            self.out[f'{dst}.num_batches_tracked'] = self.src[tracked].clone()
        else:  # PyTorch < 0.4 files have no counter; it is not used in eval mode
            self.out[f'{dst}.num_batches_tracked'] = torch.tensor(0, dtype=torch.long)

    def act(self, dst: str, src: str) -> None:
        """Copy a PReLU slope if the source has one (ReLU has no parameters)."""
        if f'{src}.weight' in self.src:
            self.put(f'{dst}.weight', f'{src}.weight')

    def consume_duplicate(self, key: str, equal_to: str) -> None:
        """Mark ``key`` used when it is the same (shared) module as ``equal_to``, else leave it."""
        if (
            key in self.src
            and equal_to in self.src
            and torch.equal(self.src[key], self.src[equal_to])
        ):
            self.used.add(key)

    def finish(self) -> Dict[str, torch.Tensor]:
        unplaced = sorted(set(self.src) - self.used)
        if unplaced or self.missing:
            raise LayoutError(self.layout, unplaced, self.missing)
        return self.out


def _prelu_size(src: Dict[str, torch.Tensor], key: str) -> Optional[int]:
    value = src.get(key)
    return None if value is None else int(value.numel())


def _num_classes(src: Dict[str, torch.Tensor], key: str, layout: str) -> int:
    if key not in src:  # not even the classifier is where this layout keeps it: nothing placed
        raise LayoutError(layout, list(src), [key])
    return int(src[key].shape[1])  # ConvTranspose2d weight (in, out, kh, kw)


def _map_seed_like(src: Dict[str, torch.Tensor], layout: str) -> Tuple[ENetArch, _Mapper]:
    """Map the seed code and ntkhoa95 (one structure; only the seed shares BN / activations)."""
    m = _Mapper(layout, src)
    seed = layout == 'seed'
    init = 'init' if seed else 'initial'
    enc_prelu = 'b11.prelu1.weight' if seed else 'b11.activation1.weight'
    dec_prelu = 'b41.prelu1.weight' if seed else 'b41.activation1.weight'
    arch = ENetArch(
        num_classes=_num_classes(src, 'fullconv.weight', layout),
        variant=layout,
        encoder_activation='prelu' if enc_prelu in src else 'relu',
        decoder_activation='prelu' if dec_prelu in src else 'relu',
        prelu_per_channel=(_prelu_size(src, enc_prelu) or 1) > 1,
        out_prelu_per_channel=(_prelu_size(src, enc_prelu) or 1) > 1,
        initial_prelu_per_channel=(
            _prelu_size(src, f'{init}.{"prelu" if seed else "activation"}.weight') or 1
        )
        > 1,
        initial_conv_bias=f'{init}.conv.bias' in src,
        initial_bn='conv',
        initial_pool_kernel=2,
        downsample_projection='1x1',
        conv_bias='b11.conv2.bias' in src,
        expansion_activation=False,
        asymmetric_order='1x5,5x1',
        asymmetric_inner_bn=False,
        upsample_main_bn=False,
        upsample_kernel=3,
        fullconv_bias='fullconv.bias' in src,
    )
    m.conv('initial.conv_branch.conv', f'{init}.conv', bias=arch.initial_conv_bias)
    m.bn('initial.conv_branch.bn', f'{init}.batchnorm' if seed else f'{init}.norm')
    m.act('initial.act', f'{init}.prelu' if seed else f'{init}.activation')
    act = ('prelu1', 'prelu2', 'prelu3') if seed else ('activation1', 'activation2', 'activation3')
    for (dst, kind), s in zip(_OUR_BLOCKS, _SEED_BLOCKS):
        bn1, bn2, bn3 = (
            (f'{s}.batchnorm', f'{s}.batchnorm', f'{s}.batchnorm2')
            if seed
            else (f'{s}.norm1', f'{s}.norm2', f'{s}.norm3')
        )
        if seed:  # one BatchNorm module used after the projection and after the middle convolution
            second = 'conv.1' if kind == 'asymmetric' else 'upconv' if kind == 'up' else 'conv'
            m.shared_bn += [f'{dst}.proj.bn', f'{dst}.{second}.bn']
        else:
            m.consume_duplicate(f'{s}.activation.weight', f'{s}.activation1.weight')
        if kind == 'up':
            m.conv(f'{dst}.main.conv', f'{s}.main_conv', bias=True)
            m.conv(f'{dst}.proj.conv', f'{s}.convt1', transpose_1x1=True)
            m.bn(f'{dst}.proj.bn', bn1)
            m.act(f'{dst}.proj.act', f'{s}.{act[0]}')
            m.conv(f'{dst}.upconv.conv', f'{s}.convt2')
            m.bn(f'{dst}.upconv.bn', bn2)
            m.act(f'{dst}.upconv.act', f'{s}.{act[1]}')
            m.conv(f'{dst}.expand.conv', f'{s}.convt3', transpose_1x1=True)
            m.bn(f'{dst}.expand.bn', bn3)
            m.act(f'{dst}.out_act', f'{s}.{act[2]}')
            continue
        m.conv(f'{dst}.proj.conv', f'{s}.conv1')
        m.bn(f'{dst}.proj.bn', bn1)
        m.act(f'{dst}.proj.act', f'{s}.{act[0]}')
        if kind == 'asymmetric':
            m.conv(f'{dst}.conv.0.conv', f'{s}.conv21')
            m.conv(f'{dst}.conv.1.conv', f'{s}.conv22')
            m.bn(f'{dst}.conv.1.bn', bn2)
            m.act(f'{dst}.conv.1.act', f'{s}.{act[1]}')
        else:
            m.conv(f'{dst}.conv.conv', f'{s}.conv2', bias=arch.conv_bias)
            m.bn(f'{dst}.conv.bn', bn2)
            m.act(f'{dst}.conv.act', f'{s}.{act[1]}')
        m.conv(f'{dst}.expand.conv', f'{s}.conv3')
        m.bn(f'{dst}.expand.bn', bn3)
        m.act(f'{dst}.out_act', f'{s}.{act[2]}')
    m.conv('fullconv', 'fullconv', bias=arch.fullconv_bias)
    return arch, m


def _map_davidtvs(src: Dict[str, torch.Tensor], layout: str) -> Tuple[ENetArch, _Mapper]:
    """davidtvs/PyTorch-ENet, 2018 and current layouts."""
    m = _Mapper(layout, src)
    current = layout == 'davidtvs'
    out_name = 'out_activation' if any('.out_activation.' in k for k in src) else 'out_prelu'
    enc_key = 'regular1_1.ext_conv1.2.weight'
    dec_key = 'regular4_1.ext_conv1.2.weight'
    arch = ENetArch(
        num_classes=_num_classes(src, 'transposed_conv.weight', layout),
        variant=layout,
        encoder_activation='prelu' if enc_key in src else 'relu',
        decoder_activation='prelu' if dec_key in src else 'relu',
        prelu_per_channel=(_prelu_size(src, enc_key) or 1) > 1,
        out_prelu_per_channel=(_prelu_size(src, f'regular1_1.{out_name}.weight') or 1) > 1,
        initial_prelu_per_channel=(_prelu_size(src, f'initial_block.{out_name}.weight') or 1) > 1,
        initial_conv_bias='initial_block.main_branch.bias' in src,
        initial_bn='concat',
        initial_pool_kernel=3,
        downsample_pool_kernel=2 if current else 3,
        downsample_projection='2x2',
        conv_bias='regular1_1.ext_conv2.0.bias' in src,
        expansion_activation=True,
        asymmetric_order='5x1,1x5',
        asymmetric_inner_bn=True,
        upsample_main_bn=True,
        upsample_kernel=2 if current else 3,
        fullconv_bias='transposed_conv.bias' in src,
    )
    bias = arch.conv_bias
    m.conv('initial.conv_branch.conv', 'initial_block.main_branch', bias=arch.initial_conv_bias)
    m.bn('initial.bn', 'initial_block.batch_norm')
    m.act('initial.act', f'initial_block.{out_name}')

    def unit(dst: str, src_seq: str, conv_bias: bool = False, first: int = 0) -> None:
        m.conv(f'{dst}.conv', f'{src_seq}.{first}', bias=conv_bias)
        m.bn(f'{dst}.bn', f'{src_seq}.{first + 1}')
        m.act(f'{dst}.act', f'{src_seq}.{first + 2}')

    for (dst, kind), s in zip(_OUR_BLOCKS, _DAVIDTVS_BLOCKS):
        if kind == 'up':
            m.conv(f'{dst}.main.conv', f'{s}.main_conv1.0', bias=bias)
            m.bn(f'{dst}.main.bn', f'{s}.main_conv1.1')
            unit(f'{dst}.proj', f'{s}.ext_conv1', bias)
            if current:
                m.conv(f'{dst}.upconv.conv', f'{s}.ext_tconv1', bias=bias)
                m.bn(f'{dst}.upconv.bn', f'{s}.ext_tconv1_bnorm')
                m.act(f'{dst}.upconv.act', f'{s}.ext_tconv1_activation')
                unit(f'{dst}.expand', f'{s}.ext_conv2', bias)
            else:
                unit(f'{dst}.upconv', f'{s}.ext_conv2', bias)
                unit(f'{dst}.expand', f'{s}.ext_conv3', bias)
        else:
            unit(f'{dst}.proj', f'{s}.ext_conv1', bias)
            if kind == 'asymmetric':
                unit(f'{dst}.conv.0', f'{s}.ext_conv2', bias)
                unit(f'{dst}.conv.1', f'{s}.ext_conv2', bias, first=3)
            else:
                unit(f'{dst}.conv', f'{s}.ext_conv2', bias)
            unit(f'{dst}.expand', f'{s}.ext_conv3', bias)
        m.act(f'{dst}.out_act', f'{s}.{out_name}')
    m.conv('fullconv', 'transposed_conv', bias=arch.fullconv_bias)
    return arch, m


_MAPPERS = {
    'seed': lambda src: _map_seed_like(src, 'seed'),
    'ntkhoa95': lambda src: _map_seed_like(src, 'ntkhoa95'),
    'davidtvs-2018': lambda src: _map_davidtvs(src, 'davidtvs-2018'),
    'davidtvs': lambda src: _map_davidtvs(src, 'davidtvs'),
}


def _try_layout(
    layout: str, src: Dict[str, torch.Tensor]
) -> Tuple[ENetArch, Dict[str, torch.Tensor], List[str]]:
    arch, mapper = _MAPPERS[layout](src)
    state = mapper.finish()
    # Shapes must fit the architecture the keys implied (e.g. a 2x2 vs 3x3 transposed convolution).
    model = ENet(arch)
    own = model.state_dict()
    bad = [
        f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}'
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if bad:
        raise LayoutError(layout, [f'(shape) {b}' for b in bad], [])
    return arch, state, mapper.shared_bn


def detect_layout(src: Dict[str, torch.Tensor]) -> str:
    """Return the layout whose key set fits ``src`` exactly.

    Raises:
        CheckpointError: If no layout fits; names the closest layout and the keys it could not
            place.
    """
    fits, errors = [], []
    for layout in LAYOUTS:
        try:
            _try_layout(layout, src)
            fits.append(layout)
        except LayoutError as exc:
            errors.append(exc)
    if fits:
        return fits[0]
    best = min(errors, key=lambda e: len(e.unplaced) + len(e.missing))
    raise CheckpointError(
        f'unknown ENet checkpoint layout ({len(src)} tensors; known layouts: '
        f'{", ".join(LAYOUTS)}). Closest is {best}'
    )


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def convert_state_dict(
    obj: object,
    layout: str = 'auto',
    classes: Optional[ClassInfo] = None,
    preprocessing: Optional[Preprocessing] = None,
    source: str = '',
) -> Tuple[ENet, CheckpointMeta]:
    """Convert a loaded third-party checkpoint object into an enet_ros model and metadata.

    Args:
        obj: What ``torch.load`` returned (a state_dict, possibly wrapped and prefixed).
        layout: One of :data:`LAYOUTS`, or ``'auto'`` to detect it.
        classes: Class names / colours / ignore index; their count must equal the checkpoint's
            output channels. Default: CamVid when the checkpoint has 12 outputs, else an error.
        preprocessing: Input preprocessing; default: what the layout's code trained with
            (:data:`DEFAULT_PREPROCESSING`).
        source: Description of where the weights came from (stored in provenance).

    Returns:
        ``(model, meta)``: the converted model in eval mode (unfused) and its metadata. When the
        layout shares BatchNorm modules, ``meta.provenance['needs_bn_repair']`` is True and
        ``meta.provenance['shared_batchnorm']`` lists our BatchNorm modules that hold a shared
        copy.

    Raises:
        CheckpointError: Unknown layout (with the keys it could not place), class-count mismatch
            (naming both counts), or an enet_ros checkpoint given as input.
    """
    if is_enet_ros_checkpoint(obj):
        raise CheckpointError('the input is already an enet_ros checkpoint; nothing to convert')
    src = unwrap_state_dict(obj)
    if layout == 'auto':
        layout = detect_layout(src)
    elif layout not in LAYOUTS:
        raise CheckpointError(
            f'unknown --layout {layout!r}; choose auto or one of {", ".join(LAYOUTS)}'
        )
    arch, state, shared_bn = _try_layout(layout, src)
    if classes is None:
        if arch.num_classes != 12:
            raise CheckpointError(
                f'the checkpoint predicts {arch.num_classes} classes; pass --classes FILE with '
                f'{arch.num_classes} class names'
            )
        from enet_ros.classes import CAMVID

        classes = CAMVID
    if classes.num_classes != arch.num_classes:
        raise CheckpointError(
            f'class count mismatch: the checkpoint predicts {arch.num_classes} classes but the '
            f'class list has {classes.num_classes}; pass a matching --classes'
        )
    provenance = {
        'source': source,
        'layout': layout,
        'method': f'enet-ros convert --layout {layout} (key mapping, no retraining)',
        'converted_at': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'torch_version': str(torch.__version__),
        'needs_bn_repair': bool(shared_bn),
        'shared_batchnorm': shared_bn,
        'metrics': {},
    }
    meta = CheckpointMeta(
        arch=arch,
        classes=classes,
        preprocessing=preprocessing or DEFAULT_PREPROCESSING[layout],
        provenance=provenance,
    )
    return build_model(meta, state).eval(), meta


def convert_file(
    src_path: str,
    layout: str = 'auto',
    classes: Optional[ClassInfo] = None,
    preprocessing: Optional[Preprocessing] = None,
) -> Tuple[ENet, CheckpointMeta]:
    """Read ``src_path`` with ``weights_only=True`` and convert it (:func:`convert_state_dict`)."""
    obj = read_torch_file(src_path)
    model, meta = convert_state_dict(
        obj,
        layout,
        classes,
        preprocessing,
        source=f'{os.path.basename(src_path)} (sha256 {sha256_file(src_path)})',
    )
    return model, dataclasses.replace(meta)
