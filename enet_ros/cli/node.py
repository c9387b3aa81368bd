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

"""``enet-ros node``: run the ROS 2 segmentation node (as ``ros2 run enet_ros enet_node`` does).

Everything after ``--ros-args`` goes to rclpy unchanged (``-p name:=value``,
``--params-file FILE``, ``-r image:=/camera/color/image_raw``, ``-r __ns:=/robot1``,
``--log-level debug`` ...). Shorthands: ``--params-file FILE`` and ``--weights PATH`` before
``--ros-args``. The large-image DDS profile is applied before ``rclpy.init`` (see
:mod:`enet_ros.ros.dds`). Examples::

    enet-ros node --ros-args -p weights:=models/enet_boxes.pt -r image:=/camera/image_raw
    enet-ros node --params-file config/jetson_orin.yaml --ros-args -r __ns:=/robot1
"""

from __future__ import annotations

import argparse
from typing import List

#: Let ``enet-ros`` pass options it does not know (ROS arguments) through in ``args.extra_args``.
PASS_UNKNOWN_ARGS = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the shorthands and ``--ros-args`` (which takes the rest of the command line)."""
    parser.add_argument('--params-file', action='append', default=[], metavar='FILE',
                        help='YAML parameter file (same as --ros-args --params-file FILE); '
                             'may repeat')
    parser.add_argument('--weights', metavar='PATH',
                        help='checkpoint (same as --ros-args -p weights:=PATH)')
    parser.add_argument('--ros-args', dest='ros_args', nargs=argparse.REMAINDER, default=None,
                        help='ROS arguments, passed to rclpy unchanged (-p, --params-file, -r, '
                             '--log-level ...)')


def ros_argv(args: argparse.Namespace) -> List[str]:
    """Return the rclpy command line: program name, then one ``--ros-args`` section.

    rcl applies parameter sources in command-line order, the later winning. The
    ``--params-file`` shorthands come first (so ``--ros-args -p`` values override them, as a
    launch file's overrides do) and ``--weights`` last (an explicit choice beats any file).
    """
    ros: List[str] = []
    for path in args.params_file or []:
        ros += ['--params-file', path]
    ros += list(args.ros_args or [])
    ros += [a for a in getattr(args, 'extra_args', []) or [] if a != '--ros-args']
    if args.weights:
        ros += ['-p', f'weights:={args.weights}']
    argv = ['enet-ros node']
    if ros:
        argv += ['--ros-args'] + ros
    return argv


def run(args: argparse.Namespace) -> int:
    """Run the node until shutdown (Ctrl-C); return its exit status."""
    from enet_ros.ros.node import main
    return main(ros_argv(args))
