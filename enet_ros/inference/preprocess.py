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

Evaluation, export verification, the ROS node and training's validation all turn images into network
inputs with :func:`preprocess` and logits back into image-sized results with :func:`logits_to_image`, so a
model scores the same wherever it runs.

Resize policies (image of H x W pixels, network resolution w x h from the checkpoint):

* ``stretch``: resize to w x h ignoring the aspect ratio; results are resized back to H x W.
* ``letterbox``: scale by ``min(w / W, h / H)`` keeping the aspect ratio, centre in w x h, pad with zeros
  in the normalised space (black for ``x / 255`` models, the mean colour for mean/std models); results are
  cropped to the content and resized back, so a pixel maps back to where it came from.
* ``native``: no resize; the network runs at the image's own size (ENet pads to a multiple of 8 itself).

Resizing uses bilinear interpolation with half-pixel centres (``align_corners=False``, OpenCV's
convention) on the device, and logits (not class ids) are resized back before the argmax.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from enet_ros.model.checkpoint import Preprocessing, RESIZE_POLICIES

INPUT_ORDERS = ('RGB', 'BGR')


@dataclasses.dataclass(frozen=True)
class ResizePlan:
    """Where an image of ``src_hw`` lands inside the network input of ``net_hw`` (pixels).

    Attributes:
        src_hw: Image (height, width).
        net_hw: Network input (height, width).
        content: ``(top, left, height, width)`` of the image content inside the network input (the whole
            input except for letterbox padding).
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
        resolution: Network ``(width, height)`` from the checkpoint, or None (then ``native`` is used).
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
        Input ``(N, 3, H, W)`` uint8 (or float 0..255); output ``(N, 3, H, W)`` float of the buffers' dtype.
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
            raise ValueError(f'images in one batch must have one size; got {img.shape} and {first}')
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
        raise ValueError(f'expected an (H, W, 3) colour image, got shape {img.shape}; convert mono or '
                         'RGBA images to 3-channel RGB first')
    if img.dtype != np.uint8:
        raise ValueError(f'expected uint8 pixels (0..255), got {img.dtype}')
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f'image is empty ({img.shape[1]}x{img.shape[0]})')


def preprocess(batch_u8: torch.Tensor, normalizer: Normalizer, plan: ResizePlan,
               memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Turn a ``(N, 3, H, W)`` uint8 batch into the network input ``(N, 3, h, w)`` per ``plan``.

    Normalisation happens before resizing (on the image grid), so letterbox padding is exactly zero in the
    normalised space, the value a zero-padded convolution sees at image borders.
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
    """Map network logits ``(N, C, h, w)`` back to the image grid ``(N, C, H, W)`` (inverse of the plan)."""
    if plan.policy == 'native':
        return logits
    top, left, ch, cw = plan.content
    if plan.policy == 'letterbox':
        logits = logits[:, :, top:top + ch, left:left + cw]
    if tuple(logits.shape[-2:]) != plan.src_hw:
        logits = F.interpolate(logits.float(), size=plan.src_hw, mode='bilinear', align_corners=False)
    return logits


def class_ids_and_confidence(logits: torch.Tensor, with_probabilities: bool = False
                             ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Argmax class ids and max softmax probability of ``(N, C, H, W)`` logits.

    Returns:
        ``(class_ids, confidence, probabilities)``: class ids ``(N, H, W)`` uint8 (int16-safe int32 when
        C > 255: uint16 after conversion to NumPy), confidence ``(N, H, W)`` float32 in [0, 1], and
        ``(N, C, H, W)`` float32 probabilities when requested, else None.
    """
    logits = logits.float()
    top, ids = logits.max(dim=1)
    if with_probabilities:
        probs = torch.softmax(logits, dim=1)
        confidence = probs.gather(1, ids.unsqueeze(1)).squeeze(1)
    else:
        probs = None
        # max softmax = 1 / sum(exp(l - max)); avoids materialising all probabilities.
        confidence = torch.exp(logits - top.unsqueeze(1)).sum(dim=1).reciprocal()
    ids = ids.to(torch.uint8) if logits.shape[1] <= 256 else ids.to(torch.int32)
    return ids, confidence, probs


def group_by_size(images: Sequence[np.ndarray]) -> List[List[int]]:
    """Indices of ``images`` grouped by (H, W), in first-seen order (one batch per group)."""
    groups: dict = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape[:2]), []).append(i)
    return list(groups.values())
