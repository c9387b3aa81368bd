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

"""BatchNorm repair: re-estimate running statistics of BatchNorm layers from images.

The seed code's checkpoints share ONE BatchNorm between two convolutions in every bottleneck; its
running statistics are a blend of two layers' statistics, so the network is wrong in eval mode
(2.5% mIoU on CamVid test, 45.8% with batch statistics). After conversion each use has its own
BatchNorm with the affine parameters copied (:mod:`enet_ros.model.convert`); this module
re-estimates their running mean and variance from representative images.

Method: pass 1 puts the chosen BatchNorm layers in training mode with a cumulative moving average
(``momentum=None``) while everything else (dropout included) stays in eval mode, as in the usual
"BN update" of stochastic weight averaging. Each further pass runs the whole network in eval mode
and re-measures each chosen layer's input statistics with forward pre-hooks, so every layer's
statistics are those of the activations it sees at inference (with its upstream layers already
repaired).
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn

LOG = logging.getLogger(__name__)


def batchnorm_layers(
    model: nn.Module, names: Optional[Sequence[str]] = None
) -> Dict[str, nn.BatchNorm2d]:
    """Return ``{name: module}`` of the model's BatchNorm2d layers (all, or those named).

    Raises:
        ValueError: If a named module does not exist or is not a BatchNorm2d.
    """
    modules = dict(model.named_modules())
    if names is None:
        return {n: m for n, m in modules.items() if isinstance(m, nn.BatchNorm2d)}
    out = {}
    for name in names:
        module = modules.get(name)
        if not isinstance(module, nn.BatchNorm2d):
            raise ValueError(f'{name!r} is not a BatchNorm2d layer of the model')
        out[name] = module
    return out


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    batches: Callable[[], Iterable[torch.Tensor]],
    names: Optional[Sequence[str]] = None,
    passes: int = 2,
    progress: Optional[Callable[[Iterable], Iterable]] = None,
) -> List[str]:
    """Re-estimate the running statistics of BatchNorm layers, in place.

    Args:
        model: The network (left in eval mode afterwards).
        batches: Callable returning a fresh iterable of preprocessed input batches ``(N, 3, H, W)``
            float on the model's device (called once per pass).
        names: Names of the BatchNorm layers to repair (default: all).
        passes: Number of passes over the images (>= 1; see the module docstring).
        progress: Optional wrapper for the iterable (e.g. ``tqdm``) to show progress.

    Returns:
        The names of the repaired layers.

    Raises:
        ValueError: If ``passes`` < 1, a name is not a BatchNorm2d, or ``batches`` yields nothing.
    """
    if passes < 1:
        raise ValueError(f'passes must be >= 1, got {passes}')
    layers = batchnorm_layers(model, names)
    wrap = progress or (lambda it: it)
    model.eval()
    # Pass 1: chosen layers in training mode with a cumulative average.
    saved = {n: m.momentum for n, m in layers.items()}
    for m in layers.values():
        m.reset_running_stats()
        m.momentum = None
        m.train()
    count = 0
    try:
        for x in wrap(batches()):
            model(x)
            count += 1
    finally:
        for n, m in layers.items():
            m.momentum = saved[n]
            m.eval()
    if count == 0:
        raise ValueError('no images to re-estimate BatchNorm statistics from')
    # Further passes: eval-mode activations, statistics measured at each layer's input.
    for _ in range(passes - 1):
        sums: Dict[str, List[torch.Tensor]] = {n: [] for n in layers}

        def hook(name):
            def pre_hook(module, inputs):
                x = inputs[0].float()
                dims = [0, 2, 3]
                n = x.numel() // x.shape[1]
                mean = x.mean(dims)
                var = x.var(dims, unbiased=n > 1)
                sums[name].append(torch.stack((mean, var)))

            return pre_hook

        handles = [m.register_forward_pre_hook(hook(n)) for n, m in layers.items()]
        try:
            for x in wrap(batches()):
                model(x)
        finally:
            for h in handles:
                h.remove()
        for n, m in layers.items():
            stats = torch.stack(sums[n]).mean(0)
            m.running_mean.copy_(stats[0])
            m.running_var.copy_(stats[1])
    LOG.info(
        're-estimated %d BatchNorm layers over %d images x %d passes', len(layers), count, passes
    )
    return list(layers)
