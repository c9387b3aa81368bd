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

"""Options shared by several ``enet-ros`` commands."""

import argparse


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend``, ``--device``, ``--precision`` and ``--resize-policy``."""
    parser.add_argument(
        '--backend',
        default='torch',
        choices=['torch', 'onnxruntime', 'tensorrt'],
        help='inference backend (default: torch)',
    )
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N' (default: cpu)")
    parser.add_argument(
        '--precision',
        default='fp32',
        choices=['fp32', 'fp16', 'bf16'],
        help='inference precision (default: fp32)',
    )
    parser.add_argument(
        '--resize-policy',
        choices=['stretch', 'letterbox', 'native'],
        help="how images reach the network resolution (default: the checkpoint's)",
    )


def parse_size(text: str) -> tuple:
    """Parse ``WxH`` (pixels) into ``(width, height)``; raise ValueError otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ValueError(f'size {text!r} is not WIDTHxHEIGHT, e.g. 640x480') from None
    if w < 1 or h < 1:
        raise ValueError(f'size {text!r} must be positive')
    return w, h
