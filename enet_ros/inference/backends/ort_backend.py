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

"""onnxruntime backend: our ONNX export (no MaxUnpool) on the CPU, CUDA or TensorRT providers.

The graph is exported per network input size (height, width) with a dynamic batch, on the first
batch of that size, verified against PyTorch (:func:`enet_ros.inference.export.export_onnx`) and
cached on disk as ``<cache>/<model hash>_<W>x<H>_opset<N>_v<format>.onnx`` (``engine_cache_dir`` or
``~/.cache/enet_ros/onnx``), so later processes start without exporting. Inputs and outputs are
torch tensors bound to the session without copies (IOBinding on the tensors' memory).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from enet_ros.inference.backends import Backend, cache_dir, parse_device, parse_precision
from enet_ros.inference.export import (EXPORT_FORMAT, export_onnx, INPUT_NAME, MIN_OPSET,
                                       model_sha256, OUTPUT_NAME)
from enet_ros.model.enet import ENet
import numpy as np
import onnx  # noqa: F401  (the export needs it: fail at backend choice, naming it)
import onnxruntime as ort
import torch

LOG = logging.getLogger(__name__)

PROVIDER_NAMES = {'cpu': 'CPUExecutionProvider', 'cuda': 'CUDAExecutionProvider',
                  'tensorrt': 'TensorrtExecutionProvider'}


def parse_providers(providers: Union[str, Sequence[str], None]) -> Optional[List[str]]:
    """Normalise the ``providers`` option to a list of names (None: the default list).

    Args:
        providers: None, a list of provider names, or one string of comma-separated names
            (``'cuda,cpu'``, as ``--option providers=cuda,cpu`` gives it).

    Returns:
        The names, stripped, in priority order; None for None.

    Raises:
        TypeError: If ``providers`` is neither a string nor a list / tuple of strings.
        ValueError: If no provider name is given (an empty list or string).
    """
    if providers is None:
        return None
    if isinstance(providers, str):
        names = [p.strip() for p in providers.split(',')]
    elif isinstance(providers, (list, tuple)) and all(isinstance(p, str) for p in providers):
        names = [p.strip() for p in providers]
    else:
        raise TypeError(f'providers must be a list of provider names or a comma-separated '
                        f'string (e.g. "cuda,cpu"), got {providers!r}')
    names = [n for n in names if n]
    if not names:
        raise ValueError(f'providers {providers!r} names no provider: give at least one of '
                         f'{", ".join(PROVIDER_NAMES)} (or leave providers unset for the '
                         'default)')
    return names


class OnnxRuntimeBackend(Backend):
    """Run ENet with onnxruntime.

    Args:
        model: The network (not modified; exported on first use of each input size).
        device: ``'cpu'`` (CPUExecutionProvider) or ``'cuda[:N]'`` (CUDA / TensorRT providers,
            which need the onnxruntime-gpu package).
        precision: ``'fp32'``; ``'fp16'`` only with the TensorRT provider (TensorRT builds fp16
            kernels from the fp32 graph).
        engine_cache_dir: Folder of exported graphs (and TensorRT provider engines); default
            ``$ENET_ROS_CACHE_DIR/onnx`` or ``~/.cache/enet_ros/onnx``.
        providers: Provider short names in priority order (``'tensorrt'``, ``'cuda'``, ``'cpu'``,
            any case) or full onnxruntime names, as a list or one comma-separated string
            (``'cuda,cpu'``); default ``['cpu']`` on the CPU, ``['cuda', 'cpu']`` on CUDA
            (``['tensorrt', 'cuda', 'cpu']`` for fp16).
        intra_op_threads: Threads of one operator on the CPU; default: ``torch.get_num_threads()``
            (the cores this process may use).
        allow_spinning: Let idle CPU threads spin between operators (lower latency on an idle
            machine, wasted cycles on a busy one).
        opset: ONNX opset of the export (>= 17).
        verify: Check each new export's parity with PyTorch (fails loudly if it does not match).

    Raises:
        ValueError: For a bad device / precision, an empty or unknown provider list, or a provider
            this onnxruntime lacks (naming the package that has it).
        TypeError: If ``providers`` is not a string or a list of strings.
    """

    name = 'onnxruntime'

    def __init__(self, model: ENet, device: str = 'cpu', precision: str = 'fp32',
                 engine_cache_dir: Optional[str] = None,
                 providers: Union[str, Sequence[str], None] = None,
                 intra_op_threads: Optional[int] = None, allow_spinning: bool = True,
                 opset: int = MIN_OPSET, verify: bool = True) -> None:
        self.device = parse_device(device)
        parse_precision(precision)
        self.precision = precision
        self.dtype = torch.float32  # the graph's input is fp32 (TensorRT fp16 converts inside)
        self.memory_format = torch.contiguous_format
        self.model = model
        self.opset = opset
        self.verify = verify
        self.cache_dir = cache_dir('onnx', engine_cache_dir)
        self.model_hash = model_sha256(model)
        self.providers = self._providers(providers)
        on_trt = self.providers[0][0] == PROVIDER_NAMES['tensorrt']
        if precision != 'fp32' and not (precision == 'fp16' and on_trt):
            raise ValueError(f'backend onnxruntime runs {precision} only through the TensorRT '
                             'provider (device cuda, precision fp16); use precision fp32, or '
                             "backend 'torch' / 'tensorrt' for reduced precision")
        self.options = ort.SessionOptions()
        self.options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.options.intra_op_num_threads = int(intra_op_threads or torch.get_num_threads())
        self.options.inter_op_num_threads = 1
        self.options.log_severity_level = 3
        if not allow_spinning:
            self.options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self._sessions: Dict[Tuple[int, int], Any] = {}
        names = ', '.join(p[0] for p in self.providers)
        self.description = (f'onnxruntime {ort.__version__} [{names}] {precision} '
                            f'{self.options.intra_op_num_threads} threads, '
                            f'model {self.model_hash[:12]}')

    def _providers(self, requested: Union[str, Sequence[str], None]
                   ) -> List[Tuple[str, Dict[str, Any]]]:
        available = ort.get_available_providers()
        on_cuda = self.device.type == 'cuda'
        requested = parse_providers(requested)
        if requested is None:
            if not on_cuda:
                requested = ['cpu']
            elif self.precision == 'fp16':
                requested = ['tensorrt', 'cuda', 'cpu']
            else:
                requested = ['cuda', 'cpu']
        out = []
        for short in requested:
            full = PROVIDER_NAMES.get(short.lower(), short)
            if full not in PROVIDER_NAMES.values() and full not in available:
                raise ValueError(f'onnxruntime provider {short!r} is unknown: use the short names '
                                 f'{", ".join(PROVIDER_NAMES)} or one of the full names '
                                 f'{", ".join(PROVIDER_NAMES.values())} (providers available '
                                 f'here: {", ".join(available)})')
            if full not in available:
                package = 'onnxruntime-gpu' if full != 'CPUExecutionProvider' else 'onnxruntime'
                raise ValueError(f'onnxruntime {ort.__version__} here has providers {available}, '
                                 f'not {full}: install {package} (with CUDA / TensorRT libraries) '
                                 'or use device cpu')
            if full != 'CPUExecutionProvider' and not on_cuda:
                raise ValueError(f'provider {full} needs device cuda, got {self.device}')
            out.append((full, self._provider_options(full)))
        if on_cuda and out[0][0] == 'CPUExecutionProvider':
            raise ValueError('device cuda needs the cuda or tensorrt provider first')
        return out

    def _provider_options(self, full: str) -> Dict[str, Any]:
        index = self.device.index if self.device.index is not None else 0
        if full == 'CUDAExecutionProvider':
            return {'device_id': index, 'cudnn_conv_algo_search': 'EXHAUSTIVE'}
        if full == 'TensorrtExecutionProvider':
            return {'device_id': index, 'trt_fp16_enable': self.precision == 'fp16',
                    'trt_engine_cache_enable': True, 'trt_engine_cache_path': self.cache_dir,
                    'trt_timing_cache_enable': True}
        return {}

    def onnx_path(self, height: int, width: int) -> str:
        """Cache file of the graph for a ``height`` x ``width`` network input."""
        name = f'{self.model_hash[:24]}_{width}x{height}_opset{self.opset}_v{EXPORT_FORMAT}.onnx'
        return os.path.join(self.cache_dir, name)

    def session(self, height: int, width: int) -> Any:
        """Return the session for a ``height`` x ``width`` input (exporting the graph first)."""
        key = (height, width)
        sess = self._sessions.get(key)
        if sess is not None:
            return sess
        path = self.onnx_path(height, width)
        if not os.path.isfile(path):
            LOG.info('exporting ENet to %s (first use of %dx%d)', path, width, height)
            export_onnx(self.model, path, size=(width, height), dynamic_batch=True,
                        opset=self.opset, verify=self.verify, check=True)
        sess = ort.InferenceSession(path, self.options, providers=[p[0] for p in self.providers],
                                    provider_options=[p[1] for p in self.providers])
        LOG.info('onnxruntime session for %dx%d on %s', width, height, sess.get_providers())
        self._sessions[key] = sess
        return sess

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, C, h, w)`` float32 for ``x`` ``(N, 3, h, w)`` float32."""
        n, _, height, width = x.shape
        sess = self.session(height, width)
        x = x.detach().to(self.device, torch.float32).contiguous()
        out = torch.empty((n, self.model.arch.num_classes, height, width), dtype=torch.float32,
                          device=self.device)
        binding = sess.io_binding()
        kind = 'cuda' if self.device.type == 'cuda' else 'cpu'
        index = self.device.index or 0
        binding.bind_input(INPUT_NAME, kind, index, np.float32, tuple(x.shape), x.data_ptr())
        binding.bind_output(OUTPUT_NAME, kind, index, np.float32, tuple(out.shape), out.data_ptr())
        if kind == 'cuda':
            # onnxruntime runs on its own stream: the input must be ready before it starts.
            torch.cuda.current_stream(self.device).synchronize()
        sess.run_with_iobinding(binding)
        if kind == 'cuda':
            binding.synchronize_outputs()
        return out
