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

"""PyTorch backend: eager ENet with BatchNorm folded, fp32 / fp16 / bf16, channels_last, CUDA graphs."""

from __future__ import annotations

import logging
from typing import Dict, Tuple

import torch

from enet_ros.inference.backends import Backend, parse_device, parse_precision
from enet_ros.model.enet import ENet

LOG = logging.getLogger(__name__)


class TorchBackend(Backend):
    """Run an :class:`ENet` with PyTorch.

    Args:
        model: The network (eval mode is set here); it is fused (BatchNorm folded) when ``fuse``.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'`` (weights and activations).
        channels_last: Use the NHWC memory format (default: on CUDA only, where it is faster).
        fuse: Fold BatchNorm into the convolutions.
        cuda_graphs: On CUDA, capture one CUDA graph per input shape and replay it (fixed shapes only; the
            first call at a new shape captures).

    Raises:
        ValueError: For a bad device or precision.
    """

    name = 'torch'

    def __init__(self, model: ENet, device: str = 'cpu', precision: str = 'fp32',
                 channels_last: bool = None, fuse: bool = True, cuda_graphs: bool = True) -> None:
        self.device = parse_device(device)
        self.dtype = parse_precision(precision)
        on_cuda = self.device.type == 'cuda'
        if channels_last is None:
            channels_last = on_cuda
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        model = model.eval()
        if fuse and not model.fused:
            model.fuse()
        self.model = model.to(self.device, self.dtype).to(memory_format=self.memory_format)
        self.use_graphs = bool(cuda_graphs and on_cuda)
        self._graphs: Dict[Tuple, Tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.description = (f'torch {torch.__version__} on {self.device} {precision}'
                            f'{" channels_last" if channels_last else ""}{" fused" if model.fused else ""}'
                            f'{" cuda-graphs" if self.use_graphs else ""}')

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits for ``x`` ``(N, 3, h, w)``; with CUDA graphs the result is a fresh tensor."""
        if not self.use_graphs:
            return self.model(x)
        key = (tuple(x.shape), x.dtype)
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._capture(x)
            self._graphs[key] = entry
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()

    def _capture(self, x: torch.Tensor):
        LOG.info('capturing a CUDA graph for input %s %s', tuple(x.shape), x.dtype)
        static_in = x.clone()
        stream = torch.cuda.Stream(device=self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm up cuDNN autotuning and the caching allocator off the graph
                self.model(static_in)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.model(static_in)
        return graph, static_in, static_out
