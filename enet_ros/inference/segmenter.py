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

"""The :class:`Segmenter`: images in; class ids, confidence and probabilities out (no ROS)."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from enet_ros.inference.backends import backend_class, coerce_options
from enet_ros.inference.preprocess import (check_image, class_ids_and_confidence, logits_to_image,
                                           Normalizer, plan_resize, preprocess, ResizePlan,
                                           to_batch_tensor, Workspace)
from enet_ros.model.checkpoint import CheckpointMeta, load_model, RESIZE_POLICIES
from enet_ros.model.enet import ENet
import numpy as np
import torch

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Segmentation:
    """Result for one image, at the image's own resolution.

    Attributes:
        class_ids: ``(H, W)`` uint8 class ids (uint16 when the model has more than 255 classes).
        confidence: ``(H, W)`` float32 in [0, 1]: the maximum softmax probability per pixel.
        probabilities: ``(C, H, W)`` float32 softmax probabilities when requested, else None.
        timings_ms: ``preprocess``, ``model`` and ``postprocess`` wall times of the batch this
            image was in (milliseconds; the model time includes a device synchronisation on CUDA).
    """

    class_ids: np.ndarray
    confidence: np.ndarray
    probabilities: Optional[np.ndarray] = None
    timings_ms: Dict[str, float] = dataclasses.field(default_factory=dict)


def check_backend_options(cls: type, name: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """Check backend options against the backend class; return them with checked types.

    Boolean options accept only clear spellings (true/false, yes/no, on/off, 1/0) and integer
    options are range-checked (:func:`enet_ros.inference.backends.coerce_options`).

    Raises:
        ValueError: Naming any option the backend class does not take (and those it takes), or an
            option value of the wrong type or range.
    """
    params = inspect.signature(cls.__init__).parameters
    known = [p for p in params if p not in ('self', 'model', 'device', 'precision')]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f'backend {name!r} has no option {", ".join(map(repr, unknown))}; '
                         f'its options are: {", ".join(known)}')
    return coerce_options(options)


def check_resolution(resolution: Any) -> Optional[Tuple[int, int]]:
    """Return ``resolution`` as ``(width, height)`` ints, or None for None.

    Raises:
        TypeError: If it is not a pair (e.g. a bare number).
        ValueError: If it does not hold exactly two positive whole numbers.
    """
    if resolution is None:
        return None
    hint = 'give the network input size as (width, height) in pixels, e.g. (640, 480)'
    if not isinstance(resolution, (list, tuple, np.ndarray)) or np.ndim(resolution) != 1:
        raise TypeError(f'resolution must be a (width, height) pair, got '
                        f'{type(resolution).__name__} {resolution!r}: {hint}')
    values = list(resolution)
    if len(values) != 2:
        raise ValueError(f'resolution must have 2 values (width, height), got {len(values)}: '
                         f'{tuple(values)!r}; {hint}')
    out = []
    for v in values:
        whole = (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))) or (
            isinstance(v, (float, np.floating)) and float(v).is_integer())
        if not whole or int(v) < 1:
            raise ValueError(f'resolution {tuple(values)!r} must be two positive whole numbers '
                             f'of pixels; {hint}')
        out.append(int(v))
    return out[0], out[1]


class Segmenter:
    """Semantic segmentation with an ENet checkpoint on a chosen backend.

    Preprocessing (channel order, scale, mean, std, network resolution) comes from the checkpoint;
    the resize policy maps images to the network input and results back exactly
    (:mod:`enet_ros.inference.preprocess`).

    Args:
        weights: Path of an enet_ros checkpoint, or an already loaded :class:`ENet` with ``meta``.
        backend: ``'torch'``, ``'onnxruntime'`` or ``'tensorrt'``.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'``.
        resize_policy: ``'stretch'``, ``'letterbox'`` or ``'native'``; default: the checkpoint's.
        resolution: Network input ``(width, height)``; default: the checkpoint's (None: native).
        input_order: Channel order of the images passed in: ``'RGB'`` (default) or ``'BGR'``.
        warmup: Run the network once at construction, at ``resolution`` (for the ``native``
            policy: at the checkpoint's declared resolution, the expected image size), when known.
        **backend_options: Passed to the backend (e.g. ``channels_last``, ``cuda_graphs``,
            ``engine_cache_dir``, ``providers``).

    Raises:
        FileNotFoundError, CheckpointError: For unreadable weights.
        ValueError: For an unknown backend, device, precision or resize policy, a bad
            ``resolution`` or a backend option of the wrong type or range.
        TypeError: If ``resolution`` is not a (width, height) pair.
        ImportError: When the backend's package is missing (naming it).
    """

    def __init__(self, weights: Union[str, os.PathLike, ENet], backend: str = 'torch',
                 device: str = 'cpu', precision: str = 'fp32', resize_policy: Optional[str] = None,
                 resolution: Optional[Sequence[int]] = None, input_order: str = 'RGB',
                 warmup: bool = True, **backend_options: Any) -> None:
        cls = backend_class(backend)
        backend_options = check_backend_options(cls, backend, backend_options)
        resolution = check_resolution(resolution)
        model = weights if isinstance(weights, ENet) else load_model(weights)
        if model.meta is None:
            raise ValueError('the model has no checkpoint metadata (model.meta); load it with '
                             'load_model()')
        self.meta: CheckpointMeta = model.meta
        prep = self.meta.preprocessing
        self.resize_policy = resize_policy or prep.resize_policy
        if self.resize_policy not in RESIZE_POLICIES:
            raise ValueError(f'resize_policy {self.resize_policy!r} is not one of '
                             f'{RESIZE_POLICIES}')
        self.resolution = tuple(resolution) if resolution is not None else prep.resolution
        if self.resize_policy == 'native':
            if resolution is not None:
                raise ValueError(f'resolution {tuple(resolution)} has no effect with the native '
                                 "resize policy (the network runs at each image's own size): "
                                 "drop it, or choose resize_policy 'stretch' or 'letterbox'")
            self.resolution = None
        self.input_order = input_order
        self.backend = cls(model, device=device, precision=precision, **backend_options)
        self.device = self.backend.device
        self.precision = precision
        self.normalizer = Normalizer(prep, input_order).to(self.backend.device)
        self._workspace = Workspace()
        # Warm up at the network resolution, or for the native policy at the image size the
        # checkpoint declares (the camera's), so that autotuning, CUDA graph capture or compilation
        # happen here rather than on the first frame.
        warm_size = self.resolution or (resolution and tuple(resolution)) or prep.resolution
        if warmup and warm_size is not None:
            w, h = warm_size
            start = time.perf_counter()
            self(np.zeros((h, w, 3), np.uint8))
            LOG.debug('warm-up at %dx%d took %.2f s', w, h, time.perf_counter() - start)
        LOG.debug('Segmenter ready: %s', self.backend.description)

    @property
    def num_classes(self) -> int:
        """Number of classes the model predicts."""
        return self.meta.arch.num_classes

    def plan(self, height: int, width: int) -> ResizePlan:
        """Return the resize plan of an image of ``height`` x ``width`` pixels."""
        return plan_resize((height, width), self.resolution, self.resize_policy)

    def network_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Preprocess same-sized (H, W, 3) uint8 images into the backend's input batch."""
        plan = self.plan(*images[0].shape[:2])
        batch = to_batch_tensor(images, self.backend.device)
        x = preprocess(batch, self.normalizer, plan, self.backend.memory_format)
        return x.to(self.backend.dtype)

    def _fused(self, plan: ResizePlan, return_probabilities: bool) -> bool:
        """Tell whether a batch with ``plan`` runs as one compiled graph (no resize, no probs)."""
        h, w = plan.src_hw
        return (not return_probabilities and plan.net_hw == plan.src_hw
                and plan.content == (0, 0, h, w)
                and bool(getattr(self.backend, 'fused_end_to_end', False)))

    def __call__(self, images: Union[np.ndarray, Sequence[np.ndarray]],
                 return_probabilities: bool = False) -> Union[Segmentation, List[Segmentation]]:
        """Segment one image (H, W, 3) uint8, or a list of them (one per camera, sizes may differ).

        Returns:
            One :class:`Segmentation` for an array, a list (same order) for a list.

        Raises:
            TypeError: If ``images`` is neither an array nor a list / tuple of arrays (e.g. None).
            ValueError: If an image is not a non-empty (H, W, 3) uint8 array.
        """
        if not isinstance(images, (np.ndarray, list, tuple)):
            raise TypeError(f'images must be an (H, W, 3) uint8 NumPy array or a list of them, '
                            f'got {type(images).__name__}; check that the image was read (e.g. '
                            'cv2.imread returns None for a missing file)')
        single = isinstance(images, np.ndarray)
        imgs = [images] if single else list(images)
        if not imgs:
            return []
        for img in imgs:
            check_image(img)
        results: List[Optional[Segmentation]] = [None] * len(imgs)
        # Images of one size share a plan and run as one batch.
        groups: Dict[tuple, List[int]] = {}
        for i, img in enumerate(imgs):
            groups.setdefault(img.shape[:2], []).append(i)
        for (h, w), idxs in groups.items():
            plan = self.plan(h, w)
            group = [imgs[i] for i in idxs]
            t0 = time.perf_counter()
            if self._fused(plan, return_probabilities):
                # One compiled graph from uint8 to class ids and confidence (same values as below).
                batch = to_batch_tensor(group, self.backend.device).permute(0, 2, 3, 1)
                t1 = time.perf_counter()
                ids, conf = self.backend.run_end_to_end(batch, self.normalizer)
                probs = None
                if self.backend.device.type == 'cuda':
                    torch.cuda.synchronize(self.backend.device)
                t2 = time.perf_counter()
            else:
                x = self.network_input(group)
                t1 = time.perf_counter()
                logits = self.backend.run(x)
                if self.backend.device.type == 'cuda':
                    torch.cuda.synchronize(self.backend.device)
                t2 = time.perf_counter()
                logits = logits_to_image(logits, plan)
                ids, conf, probs = class_ids_and_confidence(logits, return_probabilities,
                                                            self._workspace)
            ids_np = ids.cpu().numpy()
            if ids_np.dtype != np.uint8:
                ids_np = ids_np.astype(np.uint16)
            conf_np = conf.cpu().numpy()
            probs_np = probs.cpu().numpy() if probs is not None else None
            t3 = time.perf_counter()
            timings = {'preprocess': (t1 - t0) * 1e3, 'model': (t2 - t1) * 1e3,
                       'postprocess': (t3 - t2) * 1e3}
            for k, i in enumerate(idxs):
                results[i] = Segmentation(ids_np[k], conf_np[k],
                                          probs_np[k] if probs_np is not None else None, timings)
        return results[0] if single else results
