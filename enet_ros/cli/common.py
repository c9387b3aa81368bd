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
import os


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


def _writable_folder(folder: str, path: str, option: str) -> None:
    """Create ``folder`` (for the output ``path`` given by ``option``) and check it is writable.

    Raises:
        ValueError: If it cannot be created or written, naming the option and the path.
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ValueError(f'{option} {path!r}: cannot create the folder {folder!r} '
                         f'({exc.strerror or exc}); choose a writable path') from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f'{option} {path!r}: the folder {folder!r} is not writable; choose a '
                         'writable path')


def _make_parent(path: str, option: str) -> str:
    """Create the folder that will hold ``path``; return it. Raise ValueError if that fails."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise ValueError(f'{option} {path!r}: {parent!r} is a file, not a folder; choose another '
                         'path')
    _writable_folder(parent, path, option)
    return parent


def check_output_file(path: str, option: str, example: str = 'out.json') -> str:
    """Check, before any work, that the file ``path`` can be written; return ``path``.

    Creates its parent folders (as the writers would) so that an impossible path fails now, not
    after a long run.

    Args:
        path: The output file.
        option: The command-line option or argument that gave it (for the message).
        example: A file name to suggest when ``path`` is a directory.

    Raises:
        ValueError: If ``path`` is a directory, its folder cannot be created or is not writable,
            or an existing file there is read-only.
    """
    if os.path.isdir(path):
        raise ValueError(f'{option} {path!r} is a directory, expected a file name (e.g. '
                         f'{os.path.join(path, example)})')
    _make_parent(path, option)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f'{option} {path!r} exists and is not writable; choose another path')
    return path


def check_output_dir(path: str, option: str) -> str:
    """Check, before any work, that the folder ``path`` exists or can be created; create it.

    Args:
        path: The output folder.
        option: The command-line option that gave it (for the message).

    Returns:
        ``path``.

    Raises:
        ValueError: If ``path`` is an existing file, or the folder cannot be created or written.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f'{option} {path!r} is a file, expected an output folder: choose a '
                         'folder name')
    _writable_folder(path, path, option)
    return path
