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

"""TensorRT backend (TensorRT 10 Python API): an engine built from our ONNX export, cached on disk.

On the first batch of a given shape the network is exported to ONNX (no MaxUnpool; see
:mod:`enet_ros.inference.export`), parsed with ``trt.OnnxParser`` and built with one optimisation
profile for that shape (or for batches ``1..max_batch``) at the requested precision. The serialised
engine is cached as ``<cache>/<key>.engine`` where the key hashes the model hash, the input shape
profile, the precision, the TensorRT version and the GPU (name and compute capability: engines do
not move between GPU models). Later starts deserialise it in seconds instead of building for
minutes (Jetson). Build progress is logged through a ``trt.IProgressMonitor`` and TensorRT's own
messages through a ``trt.ILogger`` that forwards to :mod:`logging`.

Execution binds torch CUDA tensors by address (``set_tensor_address``) and enqueues on the current
torch stream (``execute_async_v3``), so no copies or extra synchronisation are needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from typing import Dict, Optional, Tuple

from enet_ros.inference.backends import Backend, cache_dir, parse_device, parse_precision
from enet_ros.inference.export import (EXPORT_FORMAT, export_onnx, INPUT_NAME, MIN_OPSET,
                                       model_sha256, OUTPUT_NAME)
from enet_ros.model.enet import ENet
import tensorrt as trt
import torch

LOG = logging.getLogger(__name__)


class _Logger(trt.ILogger):
    """Forward TensorRT's messages to :mod:`logging` (errors, warnings, info; verbose at debug)."""

    def __init__(self) -> None:
        trt.ILogger.__init__(self)

    def log(self, severity: 'trt.ILogger.Severity', msg: str) -> None:  # noqa: D102
        sev = trt.ILogger.Severity
        if severity in (sev.INTERNAL_ERROR, sev.ERROR):
            LOG.error('TensorRT: %s', msg)
        elif severity == sev.WARNING:
            LOG.warning('TensorRT: %s', msg)
        elif severity == sev.INFO:
            LOG.info('TensorRT: %s', msg)
        else:
            LOG.debug('TensorRT: %s', msg)


class _BuildProgress(trt.IProgressMonitor):
    """Log the builder's phases and their progress (a build takes minutes on a Jetson).

    TensorRT may call this from several threads, hence the lock; steps are logged at most every 5 s
    per phase so a long tactic search does not flood the log.
    """

    def __init__(self) -> None:
        trt.IProgressMonitor.__init__(self)
        self._lock = threading.Lock()
        self._phases: Dict[str, Tuple[int, float, float]] = {}
        self._start = time.monotonic()

    def phase_start(self, phase_name: str, parent_phase: Optional[str], num_steps: int
                    ) -> None:  # noqa: D102
        with self._lock:
            now = time.monotonic()
            self._phases[phase_name] = (num_steps, now, now)
            depth = 1 if parent_phase else 0
            LOG.info('TensorRT build %s%s (%d steps) at %.0f s', '  ' * depth, phase_name,
                     num_steps, now - self._start)

    def step_complete(self, phase_name: str, step: int) -> bool:  # noqa: D102
        with self._lock:
            steps, started, last = self._phases.get(phase_name, (0, 0.0, 0.0))
            now = time.monotonic()
            if now - last >= 5.0:
                self._phases[phase_name] = (steps, started, now)
                LOG.info('TensorRT build %s: step %d/%d (%.0f s in this phase)', phase_name,
                         step + 1, steps, now - started)
        return True  # False would cancel the build

    def phase_finish(self, phase_name: str) -> None:  # noqa: D102
        with self._lock:
            _, started, _ = self._phases.pop(phase_name, (0, time.monotonic(), 0.0))
            LOG.debug('TensorRT build %s done in %.1f s', phase_name, time.monotonic() - started)


class TensorRTBackend(Backend):
    """Run ENet with TensorRT.

    Args:
        model: The network (not modified; exported to ONNX on first use of each shape).
        device: ``'cuda'`` or ``'cuda:N'`` (TensorRT runs on NVIDIA GPUs only).
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'`` (builder flag; the engine's input and
            output stay fp32).
        engine_cache_dir: Folder of engines; default ``$ENET_ROS_CACHE_DIR/tensorrt`` or
            ``~/.cache/enet_ros/tensorrt`` (the ONNX exports then go to
            ``~/.cache/enet_ros/onnx``).
        max_batch: Build engines for batches ``1..max_batch`` (one engine serves them all);
            default: an engine per batch size seen.
        workspace_mb: Builder workspace limit in MiB (default: TensorRT's, the device memory).
        opset: ONNX opset of the export (>= 17).

    Raises:
        ValueError: For a CPU device or a bad precision.
    """

    name = 'tensorrt'

    def __init__(self, model: ENet, device: str = 'cuda', precision: str = 'fp32',
                 engine_cache_dir: Optional[str] = None, max_batch: Optional[int] = None,
                 workspace_mb: Optional[int] = None, opset: int = MIN_OPSET) -> None:
        self.device = parse_device(device)
        if self.device.type != 'cuda':
            raise ValueError(f'backend tensorrt needs a CUDA device, got {device!r}: use device '
                             "cuda, or backend 'torch' / 'onnxruntime' on the CPU")
        parse_precision(precision)
        self.precision = precision
        self.dtype = torch.float32  # engine I/O is fp32; reduced precision is inside the engine
        self.memory_format = torch.contiguous_format
        self.model = model
        self.opset = opset
        self.max_batch = max_batch
        self.workspace_mb = workspace_mb
        self.cache_dir = cache_dir('tensorrt', engine_cache_dir)
        self.onnx_dir = self.cache_dir if engine_cache_dir else cache_dir('onnx')
        self.model_hash = model_sha256(model)
        self._logger = _Logger()
        self._runtime = trt.Runtime(self._logger)
        self._engines: Dict[Tuple[int, int, int], Tuple[object, object]] = {}
        props = torch.cuda.get_device_properties(self.device)
        self.gpu = f'{props.name} sm_{props.major}{props.minor}'
        self.description = (f'tensorrt {trt.__version__} on {self.device} ({self.gpu}) '
                            f'{precision}, model {self.model_hash[:12]}')

    def _profile(self, batch: int) -> Tuple[int, int, int]:
        if self.max_batch and batch <= self.max_batch:
            return 1, self.max_batch, self.max_batch
        return batch, batch, batch

    def engine_key(self, batch: int, height: int, width: int) -> str:
        """Cache key of the engine for a ``(batch, 3, height, width)`` input (hex digest)."""
        spec = {'model': self.model_hash, 'profile': self._profile(batch), 'hw': [height, width],
                'precision': self.precision, 'tensorrt': trt.__version__, 'gpu': self.gpu,
                'opset': self.opset, 'export_format': EXPORT_FORMAT}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def engine_path(self, batch: int, height: int, width: int) -> str:
        """Engine file for a ``(batch, 3, height, width)`` input."""
        key = self.engine_key(batch, height, width)
        return os.path.join(self.cache_dir, f'enet_{width}x{height}_{self.precision}_{key}.engine')

    def _build(self, onnx_path: str, batch: int, height: int, width: int) -> bytes:
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
        parser = trt.OnnxParser(network, self._logger)
        with open(onnx_path, 'rb') as f:
            if not parser.parse(f.read()):
                errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
                raise RuntimeError(f'TensorRT cannot parse {onnx_path}: {errors}')
        config = builder.create_builder_config()
        if self.workspace_mb:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_mb << 20)
        if self.precision == 'fp16':
            if not builder.platform_has_fast_fp16:
                LOG.warning('this GPU has no fast fp16; building fp16 anyway')
            config.set_flag(trt.BuilderFlag.FP16)
        elif self.precision == 'bf16':
            config.set_flag(trt.BuilderFlag.BF16)
        lo, opt, hi = self._profile(batch)
        profile = builder.create_optimization_profile()
        channels = self.model.arch.in_channels
        profile.set_shape(INPUT_NAME, (lo, channels, height, width),
                          (opt, channels, height, width), (hi, channels, height, width))
        config.add_optimization_profile(profile)
        monitor = _BuildProgress()
        config.progress_monitor = monitor
        LOG.info('building a TensorRT engine for %s (batch %d..%d, %dx%d, %s); this takes minutes '
                 'on a Jetson, once', os.path.basename(onnx_path), lo, hi, width, height,
                 self.precision)
        start = time.monotonic()
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError('TensorRT failed to build the engine (see the TensorRT errors '
                               'logged)')
        LOG.info('TensorRT engine built in %.0f s', time.monotonic() - start)
        return bytes(serialized)

    def engine(self, batch: int, height: int, width: int) -> Tuple[object, object]:
        """Return the (engine, execution context) for a ``(batch, 3, height, width)`` input."""
        lo, _, hi = self._profile(batch)
        key = (hi, height, width)
        entry = self._engines.get(key)
        if entry is not None:
            return entry
        path = self.engine_path(batch, height, width)
        if os.path.isfile(path):
            LOG.info('loading TensorRT engine %s', path)
            with open(path, 'rb') as f:
                data = f.read()
        else:
            onnx_path = os.path.join(
                self.onnx_dir,
                f'{self.model_hash[:24]}_{width}x{height}_opset{self.opset}_v{EXPORT_FORMAT}.onnx')
            if not os.path.isfile(onnx_path):
                export_onnx(self.model, onnx_path, size=(width, height), dynamic_batch=True,
                            opset=self.opset, verify=True, check=True)
            data = self._build(onnx_path, batch, height, width)
            tmp = f'{path}.{os.getpid()}.tmp'
            with open(tmp, 'wb') as f:
                f.write(data)
            os.replace(tmp, path)
            LOG.info('cached TensorRT engine %s', path)
        engine = self._runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise RuntimeError(f'TensorRT cannot load engine {path}: delete it to rebuild')
        context = engine.create_execution_context()
        entry = (engine, context)
        self._engines[key] = entry
        return entry

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, C, h, w)`` float32 for ``x`` ``(N, 3, h, w)`` float32 on the GPU."""
        n, _, height, width = x.shape
        _, context = self.engine(n, height, width)
        x = x.detach().to(self.device, torch.float32).contiguous()
        out = torch.empty((n, self.model.arch.num_classes, height, width), dtype=torch.float32,
                          device=self.device)
        context.set_input_shape(INPUT_NAME, tuple(x.shape))
        context.set_tensor_address(INPUT_NAME, x.data_ptr())
        context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError('TensorRT execute_async_v3 failed (see the TensorRT errors logged)')
        return out
