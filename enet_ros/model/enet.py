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

"""ENet, the efficient segmentation network of Paszke et al. 2016 (arXiv:1606.02147).

The network is composed of the blocks the paper names (Section 3, Table 1, Fig. 2): the initial
block, downsampling / regular / dilated / asymmetric / upsampling bottlenecks, and the final full
convolution. One :class:`ENetArch` describes the exact variant, so that every public ENet
checkpoint (the paper's layout, davidtvs/PyTorch-ENet 2018 and current, ntkhoa95/ENet_PyTorch, and
the seed code's layout) loads into this one implementation and reproduces its original graph's
outputs; see :mod:`enet_ros.model.convert`.

Beyond the published code, this implementation:

* accepts any input height and width: the input is zero-padded on the bottom/right to a multiple of
  8 inside ``forward`` and the logits are cropped back, so logits always have the input's H x W;
* allocates nothing on the host and moves nothing between devices in ``forward`` (the main branch's
  channel padding is a concatenation, not a host-made zeros tensor), so it runs in fp32 / fp16 /
  bf16, in channels_last, on CPU and CUDA and under ``torch.compile``;
* has two interchangeable implementations of max-pooling-with-indices and max-unpooling:
  ``'native'`` (``max_pool2d(return_indices=True)`` + ``max_unpool2d``) and ``'pixel_shuffle'``
  (space-to-depth, argmax and depth-to-space), which produces the same values (first maximum of
  each 2x2 window wins, as in PyTorch) and exports to ONNX without a MaxUnpool node (TensorRT has
  none);
* folds BatchNorm into the preceding convolutions for inference with :meth:`ENet.fuse`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

UNPOOL_IMPLS = ('native', 'pixel_shuffle')


@dataclasses.dataclass(frozen=True)
class ENetArch:
    """Architecture hyperparameters of one ENet variant (stored in every checkpoint).

    The defaults are the paper's layout (Paszke et al. 2016, Section 3 and Fig. 2): PReLU in the
    encoder, ReLU in the decoder, bias-free projections, 2x2 stride-2 projection in downsampling
    bottlenecks, BatchNorm after every convolution, max-unpooling in the decoder and a final 3x3
    stride-2 full (transposed) convolution. Other values describe the published re-implementations
    exactly.

    Attributes:
        num_classes: Output channels C of the logits (class count, void/ignore class included if
            the checkpoint predicts it).
        variant: Free-form name of the variant (``'paper'``, ``'seed'``, ``'davidtvs-2018'``,
            ``'davidtvs'``, ``'ntkhoa95'``); informative only, the fields below define the graph.
        in_channels: Input channels (3 for RGB).
        encoder_activation: ``'prelu'`` or ``'relu'`` for the initial block and stages 1-3.
        decoder_activation: ``'prelu'`` or ``'relu'`` for stages 4-5.
        prelu_per_channel: PReLU inside the bottleneck extension branches has one slope per channel
            (True) or one slope per layer (False).
        out_prelu_per_channel: Same for the activation after the main + extension sum.
        initial_prelu_per_channel: Same for the initial block's activation.
        initial_conv_bias: The initial block's 3x3 convolution has a bias.
        initial_bn: ``'concat'``: BatchNorm over all channels after the concatenation (paper,
            davidtvs); ``'conv'``: BatchNorm over the convolution branch only (seed, ntkhoa95).
        initial_pool_kernel: Max-pooling window of the initial block: 2 (2x2, stride 2) or 3 (3x3,
            stride 2, padding 1, as in davidtvs' current code).
        downsample_pool_kernel: Main-branch max pooling of the downsampling bottlenecks: 2 (2x2,
            stride 2, the paper) or 3 (3x3, stride 2, padding 1, as in davidtvs' 2018 code).
        downsample_projection: ``'2x2'``: the extension branch starts with a 2x2 stride-2
            projection followed by a 3x3 convolution (paper); ``'1x1'``: a 1x1 projection followed
            by a 3x3 stride-2 convolution (seed, ntkhoa95).
        conv_bias: The middle 3x3 (regular / dilated / downsampling) convolution has a bias.
        expansion_activation: An activation follows the 1x1 expansion's BatchNorm (davidtvs).
        asymmetric_order: ``'5x1,1x5'`` (davidtvs) or ``'1x5,5x1'`` (seed, ntkhoa95).
        asymmetric_inner_bn: BatchNorm and activation between the two asymmetric convolutions.
        upsample_main_bn: The upsampling bottleneck's main-branch 1x1 convolution is followed by
            BatchNorm (paper, davidtvs); if False it has a bias instead (seed, ntkhoa95).
        upsample_kernel: Transposed convolution in the upsampling extension branch: 3 (3x3, stride
            2, padding 1, output padding 1) or 2 (2x2, stride 2).
        fullconv_bias: The final full convolution has a bias.
        projection_ratio: Channel reduction of the 1x1 projections (4 in the paper).
        dropout_stage1: Spatial dropout probability in stage 1 (0.01 in the paper).
        dropout: Spatial dropout probability in the later stages (0.1 in the paper).
    """

    num_classes: int
    variant: str = 'paper'
    in_channels: int = 3
    encoder_activation: str = 'prelu'
    decoder_activation: str = 'relu'
    prelu_per_channel: bool = True
    out_prelu_per_channel: bool = True
    initial_prelu_per_channel: bool = True
    initial_conv_bias: bool = False
    initial_bn: str = 'concat'
    initial_pool_kernel: int = 2
    downsample_pool_kernel: int = 2
    downsample_projection: str = '2x2'
    conv_bias: bool = False
    expansion_activation: bool = False
    asymmetric_order: str = '5x1,1x5'
    asymmetric_inner_bn: bool = True
    upsample_main_bn: bool = True
    upsample_kernel: int = 3
    fullconv_bias: bool = False
    projection_ratio: int = 4
    dropout_stage1: float = 0.01
    dropout: float = 0.1

    def __post_init__(self) -> None:
        """Validate the fields; raise ValueError naming the bad field and the allowed values."""
        choices = {
            'encoder_activation': ('prelu', 'relu'),
            'decoder_activation': ('prelu', 'relu'),
            'initial_bn': ('concat', 'conv'),
            'initial_pool_kernel': (2, 3),
            'downsample_pool_kernel': (2, 3),
            'downsample_projection': ('2x2', '1x1'),
            'asymmetric_order': ('5x1,1x5', '1x5,5x1'),
            'upsample_kernel': (2, 3),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f'ENetArch.{name}={getattr(self, name)!r} is not one of {allowed}'
                )
        if self.num_classes < 1:
            raise ValueError(f'ENetArch.num_classes must be >= 1, got {self.num_classes}')
        if self.in_channels < 1 or self.in_channels >= 16:
            raise ValueError(f'ENetArch.in_channels must be in 1..15, got {self.in_channels}')

    def to_dict(self) -> Dict[str, Any]:
        """Return the fields as a plain dict (what checkpoints store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'ENetArch':
        """Build from a checkpoint's ``arch`` dict; unknown keys raise ValueError naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f'unknown ENet architecture fields {unknown}; known: {sorted(names)}')
        return cls(**data)


def _activation(kind: str, channels: int, per_channel: bool) -> nn.Module:
    if kind == 'relu':
        return nn.ReLU()
    return nn.PReLU(channels if per_channel else 1)


def _fold_bn(conv: nn.Module, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the preceding Conv2d / ConvTranspose2d, in place."""
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        if isinstance(conv, nn.ConvTranspose2d):
            # weight: (in, out / groups, kh, kw); output channel is dim 1 (groups == 1 here).
            conv.weight.mul_(scale.reshape(1, -1, 1, 1))
        else:
            conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        if conv.bias is None:
            conv.bias = nn.Parameter(shift.clone())
        else:
            conv.bias.copy_(conv.bias * scale + shift)


class ConvBNAct(nn.Module):
    """A convolution, an optional BatchNorm and an optional activation: ``act(bn(conv(x)))``.

    Args:
        conv: An ``nn.Conv2d`` or ``nn.ConvTranspose2d``.
        bn: Add ``BatchNorm2d(conv.out_channels)`` after the convolution.
        act: Activation module, or None for none.

    Shape:
        Input ``(N, conv.in_channels, H, W)``; output ``(N, conv.out_channels, H', W')`` as the
        convolution gives.
    """

    def __init__(self, conv: nn.Module, bn: bool = True, act: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.conv = conv
        self.bn = nn.BatchNorm2d(conv.out_channels) if bn else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.act(self.bn(self.conv(x)))

    def fuse(self) -> None:
        """Fold the BatchNorm (if any) into the convolution and replace it by Identity."""
        if isinstance(self.bn, nn.BatchNorm2d):
            _fold_bn(self.conv, self.bn)
            self.bn = nn.Identity()


class MaxPoolWithIndices(nn.Module):
    """Stride-2 max pooling (2x2, or 3x3 with padding 1) that also returns where each maximum was.

    ``impl='native'`` returns PyTorch's flat indices (``max_pool2d(return_indices=True)``);
    ``impl='pixel_shuffle'`` returns the position of the maximum inside its window (row-major, 0..3
    for 2x2, 0..8 for 3x3), found with strided slices and argmax. Both take the first maximum of a
    window, as PyTorch does, and the second exports to ONNX / TensorRT (no MaxPool indices output).

    Args:
        kernel: 2 or 3.

    Shape:
        Input ``(N, C, H, W)`` with H, W even; output ``(N, C, H/2, W/2)`` and int64 indices of
        that shape (for ``pixel_shuffle`` with kernel 2: ``(N, C, 1, H/2, W/2)``).
    """

    def __init__(self, kernel: int = 2) -> None:
        super().__init__()
        self.impl = 'native'
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        if self.impl == 'native':
            pad = (self.kernel - 1) // 2
            return F.max_pool2d(x, self.kernel, stride=2, padding=pad, return_indices=True)
        if self.kernel == 2:
            windows = F.pixel_unshuffle(x, 2).unflatten(1, (x.shape[1], 4))  # (N, C, 4, H/2, W/2)
            return windows.amax(dim=2), windows.argmax(dim=2, keepdim=True)
        # 3x3 windows centred on (2i, 2j): pad one row/column of -inf on top/left; the window's
        # rows are 2i-1..2i+1. The nine window positions are strided slices, stacked in row-major
        # order.
        h, w = x.shape[-2] // 2, x.shape[-1] // 2
        padded = F.pad(x, (1, 0, 1, 0), value=float('-inf'))
        windows = torch.stack(
            [
                padded[:, :, di:di + 2 * h:2, dj:dj + 2 * w:2]
                for di in range(3)
                for dj in range(3)
            ],
            dim=2,
        )
        return windows.amax(dim=2), windows.argmax(dim=2)


class MaxUnpool(nn.Module):
    """Inverse of :class:`MaxPoolWithIndices`: put each value back where its window's maximum was.

    For 3x3 windows, neighbouring windows overlap; when two windows chose the same pixel, the later
    window (row-major order) wins, as in PyTorch's CPU ``max_unpool2d``.

    Args:
        kernel: The pooling's window size, 2 or 3.

    Shape:
        Input ``(N, C, h, w)`` and the indices of the matching pooling; output ``(N, C, 2h, 2w)``,
        zeros where no window's maximum was.
    """

    def __init__(self, kernel: int = 2) -> None:
        super().__init__()
        self.impl = 'native'
        self.kernel = kernel
        # 1-D so that model.to(memory_format=torch.channels_last) accepts it (4-D tensors only).
        self.register_buffer('window_positions', torch.arange(4), persistent=False)

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.impl == 'native':
            return F.max_unpool2d(x, indices, kernel_size=2, stride=2)
        if self.kernel == 2:
            # (N, C, 4, h, w) bool, one True per window
            selected = indices == self.window_positions.view(1, 1, 4, 1, 1)
            spread = x.unsqueeze(2) * selected.to(x.dtype)
            return F.pixel_shuffle(spread.flatten(1, 2), 2)
        return self._unpool3(x, indices)

    @staticmethod
    def _unpool3(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Unpool 3x3 windows: build the four pixel phases (even/odd row x column) by selection."""
        zero = torch.zeros_like(x[:, :, :1, :1])
        # Values and positions of the window to the right (b+1), below (a+1) and diagonal (a+1,
        # b+1); a missing neighbour has position -1 (never selected).
        x_r = F.pad(x[:, :, :, 1:], (0, 1))
        x_d = F.pad(x[:, :, 1:, :], (0, 0, 0, 1))
        x_rd = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        k_r = F.pad(k[:, :, :, 1:], (0, 1), value=-1)
        k_d = F.pad(k[:, :, 1:, :], (0, 0, 0, 1), value=-1)
        k_rd = F.pad(k[:, :, 1:, 1:], (0, 1, 0, 1), value=-1)
        # Pixel (2a, 2b): only window (a, b), position 4 (its centre).
        ee = torch.where(k == 4, x, zero)
        # Pixel (2a, 2b+1): window (a, b+1) at position 3 wins over window (a, b) at position 5.
        eo = torch.where(k_r == 3, x_r, torch.where(k == 5, x, zero))
        # Pixel (2a+1, 2b): window (a+1, b) at 1 wins over window (a, b) at 7.
        oe = torch.where(k_d == 1, x_d, torch.where(k == 7, x, zero))
        # Pixel (2a+1, 2b+1): windows (a+1, b+1)@0 > (a+1, b)@2 > (a, b+1)@6 > (a, b)@8.
        oo = torch.where(
            k_rd == 0,
            x_rd,
            torch.where(k_d == 2, x_d, torch.where(k_r == 6, x_r, torch.where(k == 8, x, zero))),
        )
        return F.pixel_shuffle(torch.stack((ee, eo, oe, oo), dim=2).flatten(1, 2), 2)


class InitialBlock(nn.Module):
    """ENet initial block (paper Fig. 2a): 3x3 stride-2 convolution and max pooling, concatenated.

    Shape:
        Input ``(N, in_channels, H, W)`` with H, W even; output ``(N, 16, H/2, W/2)``.
    """

    def __init__(self, arch: ENetArch, out_channels: int = 16) -> None:
        super().__init__()
        conv_channels = out_channels - arch.in_channels
        self.conv_branch = ConvBNAct(
            nn.Conv2d(
                arch.in_channels,
                conv_channels,
                3,
                stride=2,
                padding=1,
                bias=arch.initial_conv_bias,
            ),
            bn=arch.initial_bn == 'conv',
        )
        self.pool_kernel = arch.initial_pool_kernel
        self.bn = nn.BatchNorm2d(out_channels) if arch.initial_bn == 'concat' else nn.Identity()
        self.act = _activation(
            arch.encoder_activation, out_channels, arch.initial_prelu_per_channel
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        pooled = F.max_pool2d(x, self.pool_kernel, stride=2, padding=(self.pool_kernel - 1) // 2)
        return self.act(self.bn(torch.cat((self.conv_branch(x), pooled), dim=1)))

    def fuse(self) -> None:
        """Fold the BatchNorm(s) into the convolution; a post-concat BN keeps pooled channels."""
        self.conv_branch.fuse()
        if not isinstance(self.bn, nn.BatchNorm2d):
            return
        bn = self.bn
        n_conv = self.conv_branch.conv.out_channels
        with torch.no_grad():
            conv_bn = (
                nn.BatchNorm2d(n_conv, eps=bn.eps).to(bn.weight.device, bn.weight.dtype).eval()
            )
            for name in ('weight', 'bias', 'running_mean', 'running_var'):
                getattr(conv_bn, name).copy_(getattr(bn, name)[:n_conv])
            _fold_bn(self.conv_branch.conv, conv_bn)
            # The BN on the convolution channels is now the identity: weight 1, bias 0, mean 0, var
            # 1 - eps.
            bn.weight[:n_conv] = 1.0
            bn.bias[:n_conv] = 0.0
            bn.running_mean[:n_conv] = 0.0
            bn.running_var[:n_conv] = 1.0 - bn.eps


class DownsamplingBottleneck(nn.Module):
    """ENet downsampling bottleneck (paper Fig. 2b, Table 1 bottleneck1.0 / 2.0).

    Main branch: 2x2 max pooling (indices kept for the decoder) and zero channel padding. Extension
    branch:
    projection, 3x3 convolution, 1x1 expansion, spatial dropout. Output: activation of their sum.

    Shape:
        Input ``(N, in_channels, H, W)`` (H, W even); output ``(N, out_channels, H/2, W/2)`` and
        the pooling indices for :class:`UpsamplingBottleneck`.
    """

    def __init__(
        self, arch: ENetArch, in_channels: int, out_channels: int, dropout: float
    ) -> None:
        super().__init__()
        internal = in_channels // arch.projection_ratio
        act, per = arch.encoder_activation, arch.prelu_per_channel
        if arch.downsample_projection == '2x2':
            proj = nn.Conv2d(in_channels, internal, 2, stride=2, bias=False)
            conv = nn.Conv2d(internal, internal, 3, padding=1, bias=arch.conv_bias)
        else:
            proj = nn.Conv2d(in_channels, internal, 1, bias=False)
            conv = nn.Conv2d(internal, internal, 3, stride=2, padding=1, bias=arch.conv_bias)
        self.pool = MaxPoolWithIndices(arch.downsample_pool_kernel)
        self.proj = ConvBNAct(proj, act=_activation(act, internal, per))
        self.conv = ConvBNAct(conv, act=_activation(act, internal, per))
        self.expand = ConvBNAct(
            nn.Conv2d(internal, out_channels, 1, bias=False),
            act=_activation(act, out_channels, per) if arch.expansion_activation else None,
        )
        self.dropout = nn.Dropout2d(dropout)
        self.out_act = _activation(act, out_channels, arch.out_prelu_per_channel)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        main, indices = self.pool(x)
        ext = self.dropout(self.expand(self.conv(self.proj(x))))
        # Zero-padding the main branch's channels equals adding it to the first in_channels
        # channels only.
        c = self.in_channels
        out = torch.cat((ext[:, :c] + main, ext[:, c:]), dim=1)
        return self.out_act(out), indices


class RegularBottleneck(nn.Module):
    """ENet regular, dilated or asymmetric bottleneck (paper Fig. 2b, Table 1).

    Extension branch: 1x1 projection, then a 3x3 convolution (``dilation`` > 1: dilated;
    ``asymmetric``: a 5x1 and a 1x5 convolution), 1x1 expansion, spatial dropout; added to the
    identity, then activated.

    Shape:
        Input and output ``(N, channels, H, W)``.
    """

    def __init__(
        self,
        arch: ENetArch,
        channels: int,
        dropout: float,
        activation: str,
        dilation: int = 1,
        asymmetric: bool = False,
    ) -> None:
        super().__init__()
        internal = channels // arch.projection_ratio
        per = arch.prelu_per_channel
        self.proj = ConvBNAct(
            nn.Conv2d(channels, internal, 1, bias=False),
            act=_activation(activation, internal, per),
        )
        if asymmetric:
            kernels = [(5, 1), (1, 5)] if arch.asymmetric_order == '5x1,1x5' else [(1, 5), (5, 1)]
            first, second = (
                nn.Conv2d(internal, internal, k, padding=(k[0] // 2, k[1] // 2), bias=False)
                for k in kernels
            )
            inner = arch.asymmetric_inner_bn
            self.conv = nn.Sequential(
                ConvBNAct(
                    first, bn=inner, act=_activation(activation, internal, per) if inner else None
                ),
                ConvBNAct(second, act=_activation(activation, internal, per)),
            )
        else:
            self.conv = ConvBNAct(
                nn.Conv2d(
                    internal, internal, 3, padding=dilation, dilation=dilation, bias=arch.conv_bias
                ),
                act=_activation(activation, internal, per),
            )
        self.expand = ConvBNAct(
            nn.Conv2d(internal, channels, 1, bias=False),
            act=_activation(activation, channels, per) if arch.expansion_activation else None,
        )
        self.dropout = nn.Dropout2d(dropout)
        self.out_act = _activation(activation, channels, arch.out_prelu_per_channel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.out_act(x + self.dropout(self.expand(self.conv(self.proj(x)))))


class UpsamplingBottleneck(nn.Module):
    """ENet upsampling bottleneck (paper Table 1 bottleneck4.0 / 5.0).

    Main branch: 1x1 convolution (+ BatchNorm) and max-unpooling with the indices of the matching
    downsampling bottleneck. Extension branch: 1x1 projection, stride-2 transposed convolution, 1x1
    expansion, spatial dropout. Output: activation of their sum.

    Shape:
        Input ``(N, in_channels, h, w)`` and indices from a pooling of a ``(N, out_channels, 2h,
        2w)`` tensor; output ``(N, out_channels, 2h, 2w)``.
    """

    def __init__(
        self, arch: ENetArch, in_channels: int, out_channels: int, dropout: float
    ) -> None:
        super().__init__()
        internal = in_channels // arch.projection_ratio
        act, per = arch.decoder_activation, arch.prelu_per_channel
        self.main = ConvBNAct(
            nn.Conv2d(in_channels, out_channels, 1, bias=not arch.upsample_main_bn),
            bn=arch.upsample_main_bn,
        )
        self.unpool = MaxUnpool(arch.downsample_pool_kernel)
        self.proj = ConvBNAct(
            nn.Conv2d(in_channels, internal, 1, bias=False), act=_activation(act, internal, per)
        )
        if arch.upsample_kernel == 3:
            up = nn.ConvTranspose2d(
                internal, internal, 3, stride=2, padding=1, output_padding=1, bias=False
            )
        else:
            up = nn.ConvTranspose2d(internal, internal, 2, stride=2, bias=False)
        self.upconv = ConvBNAct(up, act=_activation(act, internal, per))
        self.expand = ConvBNAct(
            nn.Conv2d(internal, out_channels, 1, bias=False),
            act=_activation(act, out_channels, per) if arch.expansion_activation else None,
        )
        self.dropout = nn.Dropout2d(dropout)
        self.out_act = _activation(act, out_channels, arch.out_prelu_per_channel)

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:  # noqa: D102
        main = self.unpool(self.main(x), indices)
        ext = self.dropout(self.expand(self.upconv(self.proj(x))))
        return self.out_act(main + ext)


# Stage 2 and 3 layout (paper Table 1): (dilation, asymmetric) of bottleneck2.1..2.8 / 3.1..3.8.
_STAGE23 = (
    (1, False),
    (2, False),
    (1, True),
    (4, False),
    (1, False),
    (8, False),
    (1, True),
    (16, False),
)


class ENet(nn.Module):
    """ENet (Paszke et al. 2016, arXiv:1606.02147, Table 1) for semantic segmentation.

    Args:
        arch: The variant's hyperparameters (:class:`ENetArch`); ``ENet(ENetArch(num_classes=C))``
            is the paper's layout.

    Shape:
        Input: ``(N, arch.in_channels, H, W)`` float (fp32, fp16 or bf16), any H, W >= 1,
            normalised as the
        checkpoint's preprocessing says (see :mod:`enet_ros.model.checkpoint`).
        Output: logits ``(N, arch.num_classes, H, W)``, same dtype.

    Attributes:
        arch: The :class:`ENetArch`.
        meta: The checkpoint metadata (:class:`enet_ros.model.checkpoint.CheckpointMeta`) when the
            model was made by :func:`enet_ros.model.load_model`, else None.
    """

    def __init__(self, arch: ENetArch) -> None:
        super().__init__()
        self.arch = arch
        self.meta = None
        self.fused = False
        enc, dec = arch.encoder_activation, arch.decoder_activation
        p1, p = arch.dropout_stage1, arch.dropout
        self.initial = InitialBlock(arch)
        self.bottleneck1_0 = DownsamplingBottleneck(arch, 16, 64, p1)
        for i in range(1, 5):
            setattr(self, f'bottleneck1_{i}', RegularBottleneck(arch, 64, p1, enc))
        self.bottleneck2_0 = DownsamplingBottleneck(arch, 64, 128, p)
        for stage in (2, 3):
            for i, (dilation, asymmetric) in enumerate(_STAGE23, start=1):
                setattr(
                    self,
                    f'bottleneck{stage}_{i}',
                    RegularBottleneck(arch, 128, p, enc, dilation=dilation, asymmetric=asymmetric),
                )
        self.bottleneck4_0 = UpsamplingBottleneck(arch, 128, 64, p)
        self.bottleneck4_1 = RegularBottleneck(arch, 64, p, dec)
        self.bottleneck4_2 = RegularBottleneck(arch, 64, p, dec)
        self.bottleneck5_0 = UpsamplingBottleneck(arch, 64, 16, p)
        self.bottleneck5_1 = RegularBottleneck(arch, 16, p, dec)
        self.fullconv = nn.ConvTranspose2d(
            16, arch.num_classes, 3, stride=2, padding=1, output_padding=1, bias=arch.fullconv_bias
        )
        self._stage1 = [getattr(self, f'bottleneck1_{i}') for i in range(1, 5)]
        self._stage23 = [getattr(self, f'bottleneck{s}_{i}') for s in (2, 3) for i in range(1, 9)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute logits ``(N, C, H, W)`` for a preprocessed batch ``(N, in_channels, H, W)``."""
        height, width = x.shape[-2], x.shape[-1]
        pad_h, pad_w = (-height) % 8, (-width) % 8
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.initial(x)
        x, indices1 = self.bottleneck1_0(x)
        for block in self._stage1:
            x = block(x)
        x, indices2 = self.bottleneck2_0(x)
        for block in self._stage23:
            x = block(x)
        x = self.bottleneck4_0(x, indices2)
        x = self.bottleneck4_2(self.bottleneck4_1(x))
        x = self.bottleneck5_0(x, indices1)
        x = self.bottleneck5_1(x)
        x = self.fullconv(x)
        if pad_h or pad_w:
            x = x[:, :, :height, :width]
        return x

    def set_unpool_impl(self, impl: str) -> 'ENet':
        """Choose ``'native'`` or ``'pixel_shuffle'`` pool/unpool (same values); return self."""
        if impl not in UNPOOL_IMPLS:
            raise ValueError(f'unpool impl {impl!r} is not one of {UNPOOL_IMPLS}')
        for module in self.modules():
            if isinstance(module, (MaxPoolWithIndices, MaxUnpool)):
                module.impl = impl
        return self

    @torch.no_grad()
    def fuse(self, keep_pool_inputs_exact: bool = True) -> 'ENet':
        """Fold BatchNorm into the convolutions for inference, in place; return self.

        Only valid in eval mode (running statistics are used). Folding changes the logits by
        rounding only, except for one effect: max pooling with indices picks a window's maximum,
        and where two values are within rounding of each other, a changed rounding can pick the
        other position, which the decoder's unpooling then shows as a local logit change (seen on
        real CamVid images: up to 2 logit units on a few thousand pixels, class ids unchanged on >=
        99.999% of pixels).

        Args:
            keep_pool_inputs_exact: Leave the initial block and stage 1 (whose outputs the two
                downsampling bottlenecks pool) unfused, so the pooled tensors and their indices are
                bit-identical to the unfused network's; then every logit changes by at most 1e-4 in
                fp32 on the public checkpoints. False folds everything (fastest; use where class
                ids, not logits, must agree).

        Raises:
            RuntimeError: If the model is in training mode.
        """
        if self.training:
            raise RuntimeError('ENet.fuse() needs eval mode: call model.eval() first')
        skip = set()
        if keep_pool_inputs_exact:
            for block in [self.initial, self.bottleneck1_0] + self._stage1:
                skip.update(id(m) for m in block.modules())
        for module in self.modules():
            if isinstance(module, (ConvBNAct, InitialBlock)) and id(module) not in skip:
                module.fuse()
        self.fused = True
        return self
