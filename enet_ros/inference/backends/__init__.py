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

"""Inference backends, chosen by name and imported only when chosen.

A backend runs the network on a preprocessed batch: ``run(x)`` maps ``(N, 3, h, w)`` (on
``backend.device``, dtype ``backend.dtype``) to logits ``(N, C, h, w)``. Pre- and postprocessing
are shared (:mod:`enet_ros.inference.preprocess`), so backends differ only in how the network runs.
"""

from __future__ import annotations

import importlib
import numbers
import os
import re
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

# name -> (module, class, pip package that provides it)
BACKENDS: Dict[str, Tuple[str, str, str]] = {
    'torch': ('enet_ros.inference.backends.torch_backend', 'TorchBackend', 'torch'),
    'onnxruntime': ('enet_ros.inference.backends.ort_backend', 'OnnxRuntimeBackend',
                    'onnxruntime'),
    'tensorrt': ('enet_ros.inference.backends.tensorrt_backend', 'TensorRTBackend', 'tensorrt'),
}
PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class Backend:
    """Interface of an inference backend (see the module docstring).

    Attributes:
        name: Backend name (a key of :data:`BACKENDS`).
        device: Torch device the input batch must be on.
        dtype: Torch dtype the input batch must have.
        memory_format: Memory format the input batch should have.
        description: One line for logs (provider, precision, engine file ...).
    """

    name = 'base'
    device = torch.device('cpu')
    dtype = torch.float32
    memory_format = torch.contiguous_format
    description = ''

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, C, h, w)`` for the preprocessed batch ``x`` ``(N, 3, h, w)``."""
        raise NotImplementedError


def check_device_name(device: str) -> str:
    """Check the form of a device name (``'cpu'``, ``'cuda'`` or ``'cuda:N'``) without using it.

    Returns:
        The normalised (stripped, lower-case) name.

    Raises:
        ValueError: For any other name (``'tpu'``, ``'cuda:x'`` ...), naming the accepted forms.
    """
    text = str(device).strip().lower()
    if text == 'cpu' or re.fullmatch(r'cuda(:[0-9]+)?', text):
        return text
    raise ValueError(f"device {device!r} is not 'cpu', 'cuda' or 'cuda:N'")


def parse_device(device: str) -> torch.device:
    """Parse ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Raises:
        ValueError: For another string, or CUDA requested where it is unavailable (naming what
            exists).
    """
    text = check_device_name(device)
    if text == 'cpu':
        return torch.device('cpu')
    if text.startswith('cuda'):
        if not torch.cuda.is_available():
            raise ValueError(f'device {device!r}: CUDA is not available to this torch '
                             f'({torch.__version__}); use device cpu or install a CUDA build of '
                             'torch')
        dev = torch.device(text)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f'device {device!r}: only {torch.cuda.device_count()} CUDA '
                             'device(s) exist')
        return dev
    raise ValueError(f"device {device!r} is not 'cpu', 'cuda' or 'cuda:N'")


# Types and ranges of the backend options (keyword arguments of the backend classes) whose values
# must be checked: a CLI ``--option KEY=VALUE`` arrives as text or a number, an API caller may pass
# 'no' or 1, and a truthy 'maybe' must not silently switch a feature on.
BOOL_OPTIONS = ('channels_last', 'fuse', 'cuda_graphs', 'allow_spinning', 'verify')
# name -> (smallest value, largest value or None, what the value means)
INT_OPTIONS: Dict[str, Tuple[int, Optional[int], str]] = {
    'intra_op_threads': (0, None, 'CPU threads per operator; 0: the default'),
    'max_batch': (1, None, 'largest batch of the engine'),
    'workspace_mb': (1, None, 'TensorRT builder workspace in MiB'),
    'opset': (17, None, 'ONNX opset'),
}
_TRUE_WORDS = ('true', 'yes', 'on', '1')
_FALSE_WORDS = ('false', 'no', 'off', '0')


def coerce_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool, accepting only clear spellings.

    Args:
        name: Option name, for the message.
        value: A bool, 0 / 1, or one of ``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any
            case).

    Raises:
        ValueError: For anything else (e.g. ``'maybe'`` or 2), naming the option.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE_WORDS:
            return True
        if low in _FALSE_WORDS:
            return False
    raise ValueError(f'backend option {name}={value!r} is not a boolean: use true or false '
                     '(also yes/no, on/off, 1/0)')


def coerce_int(name: str, value: Any, low: int, high: Optional[int] = None,
               meaning: str = '') -> int:
    """Return ``value`` as an int in ``[low, high]``.

    Args:
        name: Option name, for the message.
        value: An integer, an integral float or the decimal text of one.
        low: Smallest accepted value.
        high: Largest accepted value, or None.
        meaning: What the value means, for the message.

    Raises:
        ValueError: For a non-integer (bools included) or a value out of range, naming the
            option.
    """
    what = f' ({meaning})' if meaning else ''
    number: Optional[int] = None
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r'\s*[-+]?[0-9]+\s*', value):
        number = int(value)
    if number is None:
        raise ValueError(f'backend option {name}={value!r} is not an integer{what}')
    if number < low or (high is not None and number > high):
        bound = f'>= {low}' if high is None else f'in {low}..{high}'
        raise ValueError(f'backend option {name}={number} must be {bound}{what}')
    return number


def coerce_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """Check and convert the known boolean and integer backend options (others pass unchanged).

    None keeps its meaning (the backend's default) for every option.

    Raises:
        ValueError: Naming the option, its value and what it accepts.
    """
    out = dict(options)
    for name, value in options.items():
        if value is None:
            continue
        if name in BOOL_OPTIONS:
            out[name] = coerce_bool(name, value)
        elif name in INT_OPTIONS:
            low, high, meaning = INT_OPTIONS[name]
            out[name] = coerce_int(name, value, low, high, meaning)
    return out


def parse_precision(precision: str) -> torch.dtype:
    """Map ``fp32`` / ``fp16`` / ``bf16`` to a torch dtype; raise ValueError otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision {precision!r} is not one of {", ".join(PRECISIONS)}')
    return PRECISIONS[precision]


def backend_class(name: str) -> type:
    """Import and return the backend class called ``name``.

    Raises:
        ValueError: For an unknown backend name (listing the known ones).
        ImportError: When the backend's package is missing, naming the package and how to install
            it.
    """
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose one of {", ".join(BACKENDS)}')
    module_name, class_name, package = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, 'name', None) or package
        raise ImportError(f'backend {name!r} needs the Python package {missing!r}, which is not '
                          f'importable here ({exc}). Install it (pip install {package}) or choose '
                          'another backend.') from exc
    return getattr(module, class_name)


def cache_dir(kind: str, override: Optional[str] = None) -> str:
    """Folder (created) for exported graphs / built engines of ``kind`` (e.g. ``'onnx'``).

    Args:
        kind: Sub-folder name.
        override: A folder given by the user (``engine_cache_dir``); used as is.

    Returns:
        ``override``, else ``$ENET_ROS_CACHE_DIR/<kind>``, else ``$XDG_CACHE_HOME/enet_ros/<kind>``
        (``~/.cache/enet_ros/<kind>``).
    """
    if override:
        path = os.path.expanduser(os.fspath(override))
    elif os.environ.get('ENET_ROS_CACHE_DIR'):
        path = os.path.join(os.path.expanduser(os.environ['ENET_ROS_CACHE_DIR']), kind)
    else:
        base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
        path = os.path.join(base, 'enet_ros', kind)
    os.makedirs(path, exist_ok=True)
    return path
