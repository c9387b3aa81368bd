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

"""PyTorch backend: ENet with BatchNorm folded, fp32 / fp16 / bf16, channels_last, CUDA graphs.

The backend works on its own copy of the model, so the caller's model (e.g. one being trained) is
never fused or converted in place.

With ``compile_mode='aot'`` the network is compiled ahead of time with AOTInductor
(``torch.export`` then ``torch._inductor.aoti_compile_and_package`` with the weights frozen into
the code) for each input shape on first sight, and the compiled package is cached on disk as
``<cache>/enet_<input shape>_<key>.pt2`` (``engine_cache_dir`` or ``~/.cache/enet_ros/torch_aot``),
where the key hashes the model hash, the shape, dtype and memory format, the torch version and the
CPU's vector instruction set (or the GPU). Compiling takes one to two minutes on a 2-core CPU,
once; later starts load the package in under a second. Inductor fuses the element-wise work (PReLU,
residual additions, the pooling switches) into few loops over memory instead of one pass per
operator, which roughly halves ENet's CPU time here (see ``bench/bench_inference.py``). When the
network runs at the image's own size, the Segmenter compiles normalisation, network, argmax and
confidence as one graph (:meth:`TorchBackend.run_end_to_end`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from typing import Callable, Dict, Optional, Tuple, Union

from enet_ros.inference.backends import Backend, cache_dir, parse_device, parse_precision
from enet_ros.inference.preprocess import EndToEnd
from enet_ros.model.enet import ENet, UNPOOL_IMPLS
import torch

LOG = logging.getLogger(__name__)

# Bumped whenever the compiled graph changes for the same weights (part of the AOT cache key).
AOT_FORMAT = 3


def fuse_all(model: ENet) -> ENet:
    """Fold every BatchNorm of ``model`` (eval mode) into its convolution, in place; return it.

    Folding all of them is fastest; where the logits must match the unfused network's bit for bit
    around pooling decisions, use ``model.fuse()``'s defaults instead.
    """
    try:
        return model.fuse(keep_pool_inputs_exact=False)
    except TypeError:  # an ENet whose fuse() folds everything and takes no options
        return model.fuse()


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Put the 4-D parameters and buffers of ``model`` in channels_last (NHWC) memory format."""
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            if param.dim() == 4:
                param.data = param.data.contiguous(memory_format=torch.channels_last)
        for name, buf in list(module.named_buffers(recurse=False)):
            if buf is not None and buf.dim() == 4:
                setattr(module, name, buf.contiguous(memory_format=torch.channels_last))
    return model


class TorchBackend(Backend):
    """Run an :class:`ENet` with PyTorch.

    Args:
        model: The network; a copy is made, put in eval mode, fused and converted (the caller's
            model is left as it is).
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'`` (weights and activations).
        channels_last: Use the NHWC memory format (default: on when eager, the faster layout for
            ENet with oneDNN on the CPU and with cuDNN on the GPU; off when compiled).
        fuse: Fold BatchNorm into the convolutions.
        cuda_graphs: On CUDA, capture one CUDA graph per input shape and replay it (fixed shapes
            only; the first call at a new shape captures). Not combined with ``compile_mode``.
        unpool_impl: ENet's max-pool/unpool implementation, ``'native'`` (default) or
            ``'pixel_shuffle'`` (same values).
        compile_mode: ``False`` (eager), ``True`` or ``'aot'`` (AOTInductor, compiled once per
            input shape and cached on disk, see the module docstring) or ``'jit'``
            (``torch.compile`` in this process at every start: no disk cache for frozen weights,
            about a minute per start).
        engine_cache_dir: Folder of the AOT packages (default ``$ENET_ROS_CACHE_DIR/torch_aot`` or
            ``~/.cache/enet_ros/torch_aot``).

    Raises:
        ValueError: For a bad device, precision, unpool implementation or compile mode.
    """

    name = 'torch'

    def __init__(self, model: ENet, device: str = 'cpu', precision: str = 'fp32',
                 channels_last: Optional[bool] = None, fuse: bool = True, cuda_graphs: bool = True,
                 unpool_impl: Optional[str] = None, compile_mode: Union[bool, str, None] = None,
                 engine_cache_dir: Optional[str] = None) -> None:
        self.device = parse_device(device)
        self.dtype = parse_precision(precision)
        on_cuda = self.device.type == 'cuda'
        if compile_mode is True:
            compile_mode = 'aot'
        if compile_mode not in (False, None, 'aot', 'jit'):
            raise ValueError(f"compile_mode must be None, 'aot' (or True) or 'jit', got "
                             f'{compile_mode!r}')
        self.compile_mode = compile_mode or None
        if channels_last is None:
            # Eager: NHWC is faster (oneDNN / cuDNN). Compiled: same network speed either way, but
            # NCHW logits make the fused argmax / confidence several times cheaper (the reduction
            # over classes then vectorises across pixels).
            channels_last = not self.compile_mode
        if unpool_impl is None:
            unpool_impl = 'native'  # also compiles (AOTInductor lowers it) and ran faster here
        if unpool_impl not in UNPOOL_IMPLS:
            raise ValueError(f'unpool_impl {unpool_impl!r} is not one of {UNPOOL_IMPLS}')
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.engine_cache_dir = engine_cache_dir
        if self.compile_mode == 'aot':
            from enet_ros.inference.export import model_sha256
            self.model_hash = model_sha256(model)
        model = copy.deepcopy(model).eval()
        if fuse and not model.fused:
            fuse_all(model)
        model.set_unpool_impl(unpool_impl)
        if fuse:
            # Same values; a compiler fuses LeakyReLU into the preceding convolution (oneDNN
            # post-op), which it cannot do with a PReLU module.
            from enet_ros.inference.export import leaky_relu_for_scalar_prelu
            leaky_relu_for_scalar_prelu(model)
        model = model.to(self.device, self.dtype)
        if channels_last:
            to_channels_last(model)
        self.model = model
        self.use_graphs = bool(cuda_graphs and on_cuda and not self.compile_mode)
        self._graphs: Dict[Tuple, Tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self._compiled: Dict[Tuple, Callable[[torch.Tensor], torch.Tensor]] = {}
        flags = [f for f, on in (('channels_last', channels_last), ('fused', model.fused),
                                 (f'compiled-{self.compile_mode}', bool(self.compile_mode)),
                                 ('cuda-graphs', self.use_graphs)) if on]
        self.description = (f'torch {torch.__version__} on {self.device} {precision} '
                            f'{unpool_impl} {" ".join(flags)}').strip()

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits for ``x`` ``(N, 3, h, w)`` (a fresh tensor, also with CUDA graphs)."""
        if self.compile_mode:
            return self._compiled_forward(x)(x)
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

    @property
    def fused_end_to_end(self) -> bool:
        """Whether :meth:`run_end_to_end` is available (compiled backends)."""
        return self.compile_mode is not None

    @torch.inference_mode()
    def run_end_to_end(self, images: torch.Tensor, normalizer: torch.nn.Module
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class ids and confidence of uint8 images run at their own size, as one compiled graph.

        Args:
            images: ``(N, H, W, 3)`` uint8 images on :attr:`device`.
            normalizer: The Segmenter's :class:`~enet_ros.inference.preprocess.Normalizer`.

        Returns:
            Class ids ``(N, H, W)`` (uint8, int32 above 255 classes) and confidence ``(N, H, W)``
            float32, as :func:`~enet_ros.inference.preprocess.class_ids_and_confidence` gives.
        """
        norm = normalizer.key
        key = ('end_to_end', tuple(images.shape), images.dtype, norm)
        fns = self._compiled.get(key)
        images = images.contiguous()
        if fns is None:
            module = EndToEnd(normalizer, self.model, self.dtype, self.memory_format).eval()
            network = self._compile(module.network, images, {'end_to_end': norm}, None)
            with torch.no_grad():
                logits = network(images)
            head = self._compile(module.head, logits, {'head': True, 'model': None}, None)
            fns = (network, head)
            self._compiled[key] = fns
        network, head = fns
        return head(network(images))

    def _compiled_forward(self, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        key = (tuple(x.shape), x.dtype, x.is_contiguous(memory_format=torch.channels_last))
        fn = self._compiled.get(key)
        if fn is None:
            example = x.detach().contiguous(memory_format=self.memory_format)
            fn = self._compile(self.model, example, {}, self.memory_format)
            self._compiled[key] = fn
        return fn

    def _compile(self, module: torch.nn.Module, example: torch.Tensor, extra: dict,
                 memory_format: Optional[torch.memory_format]) -> Callable:
        """Compile ``module`` for inputs like ``example``, or load / build its AOT package."""
        start = time.monotonic()
        if self.compile_mode == 'jit':
            import torch._inductor.config as inductor_config
            inductor_config.freezing = True  # constant-fold the weights into the compiled graph
            fn = torch.compile(module, dynamic=False)
            fn(example)
            LOG.info('torch.compile for input %s took %.1f s', tuple(example.shape),
                     time.monotonic() - start)
        else:
            fn = self._load_aot(module, example, extra)
        if memory_format is None:
            return fn
        return lambda inp: fn(inp.contiguous(memory_format=memory_format))

    def aot_path(self, example: torch.Tensor, extra: Optional[dict] = None) -> str:
        """Return the AOTInductor package file for inputs like ``example`` (module docstring)."""
        target = (torch.cuda.get_device_name(self.device) if self.device.type == 'cuda'
                  else torch.backends.cpu.get_cpu_capability())
        spec = {'format': AOT_FORMAT, 'model': self.model_hash, 'shape': list(example.shape),
                'dtype': str(self.dtype),
                'input_dtype': str(example.dtype),
                'channels_last': self.memory_format == torch.channels_last,
                'unpool': self.model.bottleneck1_0.pool.impl, 'torch': torch.__version__,
                'device': self.device.type, 'target': target, **(extra or {})}
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
        shape = 'x'.join(str(v) for v in example.shape)
        folder = cache_dir('torch_aot', self.engine_cache_dir)
        return os.path.join(folder, f'enet_{shape}_{key}.pt2')

    def _load_aot(self, module: torch.nn.Module, example: torch.Tensor, extra: dict) -> Callable:
        try:
            from torch._inductor import aoti_compile_and_package, aoti_load_package
        except ImportError as exc:
            raise ImportError(f'compile_mode aot needs AOTInductor (torch >= 2.6); this is torch '
                              f'{torch.__version__}. Upgrade torch or use compile_mode=None'
                              ) from exc
        path = self.aot_path(example, extra)
        if not os.path.isfile(path):
            LOG.info('compiling ENet for input %s with AOTInductor into %s; this takes a minute '
                     'or two, once', tuple(example.shape), path)
            start = time.monotonic()
            tmp = f'{path}.{os.getpid()}.tmp.pt2'
            try:
                with torch.no_grad():
                    program = torch.export.export(module, (example,))
                    aoti_compile_and_package(program, package_path=tmp,
                                             inductor_configs={'freezing': True})
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            LOG.info('compiled in %.0f s', time.monotonic() - start)
        else:
            LOG.info('loading the compiled ENet %s', path)
        return aoti_load_package(path)

    def _capture(self, x: torch.Tensor):
        LOG.info('capturing a CUDA graph for input %s %s', tuple(x.shape), x.dtype)
        static_in = x.clone(memory_format=self.memory_format)
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
