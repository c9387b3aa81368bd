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

"""The one preprocessing / postprocessing code path of enet_ros.

Evaluation, export verification, the ROS node and training's validation all turn images into
network inputs with :func:`preprocess` and logits back into image-sized results with
:func:`logits_to_image`, so a model scores the same wherever it runs.

Resize policies (image of H x W pixels, network resolution w x h from the checkpoint):

* ``stretch``: resize to w x h ignoring the aspect ratio; results are resized back to H x W.
* ``letterbox``: scale by ``min(w / W, h / H)`` keeping the aspect ratio, centre in w x h, pad with
  zeros in the normalised space (black for ``x / 255`` models, the mean colour for mean/std
  models); results are cropped to the content and resized back, so a pixel maps back to where it
  came from.
* ``native``: no resize; the network runs at the image's own size (ENet pads to a multiple of 8
  itself).

Resizing uses bilinear interpolation with half-pixel centres (``align_corners=False``, OpenCV's
convention) on the device, and logits (not class ids) are resized back before the argmax.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

from enet_ros.model.checkpoint import Preprocessing, RESIZE_POLICIES
import numpy as np
import torch
import torch.nn.functional as F

INPUT_ORDERS = ('RGB', 'BGR')
MAX_UINT8_CLASSES = 255  # class ids 0..254 fit uint8; from 256 classes on, uint16


@dataclasses.dataclass(frozen=True)
class ResizePlan:
    """Where an image of ``src_hw`` lands inside the network input of ``net_hw`` (pixels).

    Attributes:
        src_hw: Image (height, width).
        net_hw: Network input (height, width).
        content: ``(top, left, height, width)`` of the image content inside the network input (the
            whole input except for letterbox padding).
        policy: The resize policy used.
    """

    src_hw: Tuple[int, int]
    net_hw: Tuple[int, int]
    content: Tuple[int, int, int, int]
    policy: str


def plan_resize(src_hw: Tuple[int, int], resolution: Optional[Tuple[int, int]],
                policy: str) -> ResizePlan:
    """Compute the :class:`ResizePlan` of an image.

    Args:
        src_hw: Image (height, width) in pixels, both >= 1.
        resolution: Network ``(width, height)`` from the checkpoint, or None (then ``native`` is
            used).
        policy: One of ``stretch``, ``letterbox``, ``native``.

    Raises:
        ValueError: For an unknown policy or an empty image.
    """
    if policy not in RESIZE_POLICIES:
        raise ValueError(f'resize policy {policy!r} is not one of {RESIZE_POLICIES}')
    h, w = int(src_hw[0]), int(src_hw[1])
    if h < 1 or w < 1:
        raise ValueError(f'image size {w}x{h} is empty')
    if policy == 'native' or resolution is None:
        return ResizePlan((h, w), (h, w), (0, 0, h, w), 'native')
    net_w, net_h = int(resolution[0]), int(resolution[1])
    if policy == 'stretch':
        return ResizePlan((h, w), (net_h, net_w), (0, 0, net_h, net_w), policy)
    scale = min(net_w / w, net_h / h)
    ch, cw = max(1, min(net_h, round(h * scale))), max(1, min(net_w, round(w * scale)))
    top, left = (net_h - ch) // 2, (net_w - cw) // 2
    return ResizePlan((h, w), (net_h, net_w), (top, left, ch, cw), policy)


class Normalizer(torch.nn.Module):
    """``(x[..., order] * scale - mean) / std`` for uint8 NCHW batches, as one multiply-add.

    Args:
        prep: The checkpoint's :class:`Preprocessing`.
        input_order: Channel order of the images given (``'RGB'`` or ``'BGR'``).

    Shape:
        Input ``(N, 3, H, W)`` uint8 (or float 0..255); output ``(N, 3, H, W)`` float of the
        buffers' dtype.
    """

    def __init__(self, prep: Preprocessing, input_order: str = 'RGB') -> None:
        super().__init__()
        if input_order not in INPUT_ORDERS:
            raise ValueError(f'input channel order {input_order!r} is not one of {INPUT_ORDERS}')
        self.swap = input_order != prep.channel_order
        mean = torch.tensor(prep.mean, dtype=torch.float64)
        std = torch.tensor(prep.std, dtype=torch.float64)
        gain = prep.scale / std
        offset = -mean / std
        self.register_buffer('gain', gain.float().reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer('offset', offset.float().reshape(1, 3, 1, 1), persistent=False)
        # Hashable identity of this normalisation (compiled-graph cache keys), computed once on
        # the CPU: reading the buffers per frame would sync a GPU.
        self.key = (bool(self.swap), tuple(self.gain.flatten().tolist()),
                    tuple(self.offset.flatten().tolist()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.swap:
            x = x.flip(1)
        return torch.addcmul(self.offset, x.to(self.gain.dtype), self.gain)


def to_batch_tensor(images: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack same-sized (H, W, 3) uint8 images into a ``(N, 3, H, W)`` uint8 tensor on ``device``.

    Raises:
        ValueError: If an image is not (H, W, 3) uint8 or the sizes differ.
    """
    first = images[0].shape
    for img in images:
        check_image(img)
        if img.shape != first:
            raise ValueError(f'images in one batch must have one size; got {img.shape} and '
                             f'{first}')
    if len(images) == 1:
        t = torch.from_numpy(np.ascontiguousarray(images[0])).unsqueeze(0)
    else:
        t = torch.from_numpy(np.stack(images))
    return t.to(device, non_blocking=True).permute(0, 3, 1, 2)


def check_image(img: np.ndarray) -> None:
    """Raise ValueError naming the problem unless ``img`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f'expected a NumPy image (H, W, 3) uint8, got {type(img).__name__}')
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) colour image, got shape {img.shape}; convert '
                         'mono or RGBA images to 3-channel RGB first')
    if img.dtype != np.uint8:
        raise ValueError(f'expected uint8 pixels (0..255), got {img.dtype}')
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f'image is empty ({img.shape[1]}x{img.shape[0]})')


def preprocess(batch_u8: torch.Tensor, normalizer: Normalizer, plan: ResizePlan,
               memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Turn a ``(N, 3, H, W)`` uint8 batch into the network input ``(N, 3, h, w)`` per ``plan``.

    Normalisation happens before resizing (on the image grid), so letterbox padding is exactly zero
    in the normalised space, the value a zero-padded convolution sees at image borders.
    """
    x = normalizer(batch_u8)
    if plan.policy == 'native':
        return x.contiguous(memory_format=memory_format)
    top, left, ch, cw = plan.content
    if (ch, cw) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=(ch, cw), mode='bilinear', align_corners=False)
    if plan.policy == 'letterbox':
        net_h, net_w = plan.net_hw
        x = F.pad(x, (left, net_w - cw - left, top, net_h - ch - top))
    return x.contiguous(memory_format=memory_format)


def logits_to_image(logits: torch.Tensor, plan: ResizePlan) -> torch.Tensor:
    """Map network logits ``(N, C, h, w)`` back to the image grid ``(N, C, H, W)``."""
    if plan.policy == 'native':
        return logits
    top, left, ch, cw = plan.content
    if plan.policy == 'letterbox':
        logits = logits[:, :, top:top + ch, left:left + cw]
    if tuple(logits.shape[-2:]) != plan.src_hw:
        logits = F.interpolate(logits.float(), size=plan.src_hw, mode='bilinear',
                               align_corners=False)
    return logits


def id_dtype(num_classes: int) -> torch.dtype:
    """Torch dtype of class ids: uint8 up to 255 classes, int32 above (uint16 once in NumPy)."""
    return torch.uint8 if num_classes <= MAX_UINT8_CLASSES else torch.int32


class Workspace:
    """Reusable scratch tensors for :func:`class_ids_and_confidence`, one set per logits shape.

    Reusing them avoids allocating (and page-faulting) two logits-sized buffers per frame, which
    costs as much as the arithmetic on a CPU. Not thread-safe: one workspace per calling thread.
    """

    def __init__(self) -> None:
        self._buffers: dict = {}

    def get(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(diff, is_max, weights)`` buffers shaped like ``logits`` (float, bool, uint8)."""
        key = (tuple(logits.shape), logits.device, logits.dtype)
        entry = self._buffers.get(key)
        if entry is None:
            self._buffers.clear()  # keep one shape: a camera's resolution rarely changes
            entry = (torch.empty_like(logits, memory_format=torch.contiguous_format),
                     torch.empty(logits.shape, dtype=torch.bool, device=logits.device),
                     torch.empty(logits.shape, dtype=torch.uint8, device=logits.device))
            self._buffers[key] = entry
        return entry


def class_ids_and_confidence(logits: torch.Tensor, with_probabilities: bool = False,
                             workspace: Optional[Workspace] = None
                             ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Argmax class ids and max softmax probability of ``(N, C, H, W)`` logits.

    The class id of a pixel is the first channel holding its maximum logit (``torch.argmax``'s
    choice); the confidence is ``1 / sum_c exp(logit_c - max)``, the softmax probability of that
    class, computed without materialising the probabilities.

    Args:
        logits: ``(N, C, H, W)`` float logits (any float dtype; computed in float32).
        with_probabilities: Also return the softmax probabilities.
        workspace: Scratch buffers to reuse between calls (see :class:`Workspace`), or None.

    Returns:
        ``(class_ids, confidence, probabilities)``: class ids ``(N, H, W)`` uint8 when C <= 255,
        else int32 (uint16 after conversion to NumPy); confidence ``(N, H, W)`` float32 in [0, 1];
        and ``(N, C, H, W)`` float32 probabilities when requested, else None.
    """
    logits = logits.float()
    num_classes = logits.shape[1]
    if with_probabilities or num_classes > MAX_UINT8_CLASSES:
        top, ids = logits.max(dim=1)
        if with_probabilities:
            probs = torch.softmax(logits, dim=1)
            confidence = probs.gather(1, ids.unsqueeze(1)).squeeze(1)
        else:
            probs = None
            confidence = torch.exp(logits - top.unsqueeze(1)).sum(dim=1).reciprocal_()
        return ids.to(id_dtype(num_classes)), confidence, probs
    # C <= 255: the first maximal channel is C - 1 - max_c(is_max_c * (C - 1 - c)), all in uint8;
    # logit - max is exactly 0 only where the logit is the maximum. Each step is one vectorised
    # pass over the logits; torch.max(dim=1) with indices is several times slower on the CPU.
    if workspace is None:
        workspace = Workspace()
    diff, is_max, weights = workspace.get(logits)
    top = logits.amax(dim=1, keepdim=True)
    torch.sub(logits, top, out=diff)
    torch.eq(diff, 0, out=is_max)
    reverse = torch.arange(num_classes - 1, -1, -1, dtype=torch.uint8, device=logits.device)
    torch.mul(is_max, reverse.view(1, -1, 1, 1), out=weights)
    ids = torch.sub(num_classes - 1, weights.amax(dim=1))
    confidence = diff.exp_().sum(dim=1).reciprocal_()
    return ids, confidence, None


class SegmentationHead(torch.nn.Module):
    """Class ids and confidence from logits, as one graph (for compiled end-to-end networks).

    Computes exactly what :func:`class_ids_and_confidence` computes (first maximal channel; max
    softmax probability ``1 / sum_c exp(logit_c - max)``) with plain tensor operations that a
    compiler fuses into one pass over the logits.

    Shape:
        Input ``(N, C, H, W)`` float logits; outputs class ids ``(N, H, W)`` (uint8 when C <= 255,
        else int32) and confidence ``(N, H, W)`` float32.
    """

    def forward(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        logits = logits.float()
        top = logits.amax(dim=1, keepdim=True)
        ids = logits.argmax(dim=1).to(id_dtype(logits.shape[1]))
        confidence = torch.exp(logits - top).sum(dim=1).reciprocal()
        return ids, confidence


class NormalizedNetwork(torch.nn.Module):
    """uint8 images to logits in one module: normalise (as :class:`Normalizer`), then the network.

    Args:
        normalizer: The :class:`Normalizer` (channel order, scale, mean, std).
        model: The network (any module mapping ``(N, 3, H, W)`` to logits).
        dtype: Network input dtype.
        memory_format: Network input memory format.

    Shape:
        Input ``(N, H, W, 3)`` uint8 images; output logits ``(N, C, H, W)``.
    """

    def __init__(self, normalizer: Normalizer, model: torch.nn.Module, dtype: torch.dtype,
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.normalizer = normalizer
        self.model = model
        self.dtype = dtype
        self.memory_format = memory_format

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = self.normalizer(images.permute(0, 3, 1, 2)).to(self.dtype)
        return self.model(x.contiguous(memory_format=self.memory_format))


class EndToEnd(torch.nn.Module):
    """uint8 images to class ids and confidence: :class:`NormalizedNetwork`, then the head.

    Used by compiling backends when the network runs at the image's own size. They compile
    :attr:`network` and :attr:`head` as two graphs: fused into one, the compiler read the logits
    in the convolution's layout and the head became about 4x slower (inductor, on the CPU).

    Args:
        normalizer: The :class:`Normalizer` (channel order, scale, mean, std).
        model: The network (any module mapping ``(N, 3, H, W)`` to logits).
        dtype: Network input dtype.
        memory_format: Network input memory format.

    Shape:
        Input ``(N, H, W, 3)`` uint8 images; outputs as :class:`SegmentationHead`.
    """

    def __init__(self, normalizer: Normalizer, model: torch.nn.Module, dtype: torch.dtype,
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.network = NormalizedNetwork(normalizer, model, dtype, memory_format)
        self.head = SegmentationHead()

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        return self.head(self.network(images))


def group_by_size(images: Sequence[np.ndarray]) -> List[List[int]]:
    """Group the indices of ``images`` by (H, W), in first-seen order (one batch per group)."""
    groups: dict = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape[:2]), []).append(i)
    return list(groups.values())
