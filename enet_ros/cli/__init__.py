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

"""The ``enet-ros`` command line: one program, subcommands loaded on demand.

Each subcommand lives in ``enet_ros/cli/<module>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen subcommand's module is imported (as ros2cli loads its verbs),
so ``enet-ros train`` works without rclpy and ``enet-ros node`` without onnx. A module imports its
heavy dependencies inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Dict, List, Optional, Tuple

# name -> (module, one-line help)
COMMANDS: Dict[str, Tuple[str, str]] = {
    'convert': ('convert', 'convert a third-party ENet checkpoint into the enet_ros format'),
    'info': ('info', 'print what a checkpoint holds (classes, preprocessing, provenance)'),
    'evaluate': (
        'evaluate',
        'mIoU, per-class IoU, pixel accuracy and confusion matrix on a dataset',
    ),
    'infer': ('infer', 'segment image files / folders: class-id PNG masks and colour overlays'),
    'export': ('export', 'export to ONNX (no MaxUnpool node) and verify parity against PyTorch'),
    'benchmark': ('benchmark', 'latency / throughput / memory of a backend vs the seed code'),
    'synth': ('synth', 'render synthetic RGB-D carton scenes (and a rosbag2) with ground truth'),
    'train': ('train', 'train ENet from a YAML config'),
    'node': ('node', 'run the ROS 2 segmentation node (takes --ros-args)'),
    'replay': ('replay', 'replay a rosbag2 through the live node, record outputs, report'),
    'bag-from-images': (
        'bag_from_images',
        'turn a folder of images into a rosbag2 of sensor_msgs/Image',
    ),
}


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: enet-ros COMMAND [options]   (enet-ros COMMAND -h for a command's options)",
        '',
        'commands:',
    ]
    lines += [f'  {name.ljust(width)}  {help_}' for name, (_, help_) in COMMANDS.items()]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``enet-ros``; return the process exit status (0 success, 1 failure, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(_usage())
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        print(f'enet-ros: unknown command {name!r}\n\n{_usage()}', file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(f'enet_ros.cli.{module_name}')
    parser = argparse.ArgumentParser(prog=f'enet-ros {name}', description=help_)
    parser.add_argument(
        '--log-level',
        default='INFO',
        choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
        help='logging level',
    )
    module.add_arguments(parser)
    if getattr(module, 'PASS_UNKNOWN_ARGS', False):  # e.g. `node` forwards --ros-args to rclpy
        args, extra = parser.parse_known_args(argv[1:])
        args.extra_args = extra
    else:
        args = parser.parse_args(argv[1:])
    logging.basicConfig(
        level=getattr(logging, args.log_level), format='[%(levelname)s] %(name)s: %(message)s'
    )
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, RuntimeError, ImportError) as exc:
        # Expected user-facing failures (bad paths, bad values, missing optional packages): one
        # clear line.
        if args.log_level == 'DEBUG':
            raise
        print(f'enet-ros {name}: error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
