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

"""``enet-ros replay``: a rosbag2 through the live node; record its outputs; report.

Examples::

    enet-ros replay out/demo/bag --fast --report out/demo/report.json
    enet-ros replay out/demo/bag --fast --record out/demo/recorded --export-frames out/demo/frames
    enet-ros replay ../shared/data/neura_palletizer_bags_derived/neura_palletizer_mcap --rate .5
    enet-ros replay my_bag --attach --node-name enet --namespace /robot1

The node is started as a child process with ``use_sim_time`` (``/clock`` comes from the bag),
unless ``--attach`` is given. How the replay works, and what is recorded:
:mod:`enet_ros.ros.replay`; the report: :mod:`enet_ros.replay_report`.
"""

from __future__ import annotations

import argparse
import json
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('bag', help='rosbag2 folder (sqlite3 or mcap)')
    parser.add_argument('--weights', metavar='CKPT',
                        help="checkpoint for the node (default: the params file's, or the "
                             "node's default models/enet_boxes.pt)")
    parser.add_argument('--params', action='append', default=[], metavar='FILE',
                        help='node parameter file (YAML, as config/enet.yaml); may repeat')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='extra node parameter, e.g. num_threads:=2; may repeat')
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument('--rate', type=float, default=1.0, metavar='R',
                      help='play at R times the recorded speed (default 1)')
    pace.add_argument('--fast', action='store_true',
                      help='as fast as the node answers: each frame waits for its outputs')
    parser.add_argument('--record', metavar='OUT',
                        help='record the node outputs (mask, confidence, boxes, markers, '
                             'detections, label_info, diagnostics) into this new rosbag2')
    parser.add_argument('--record-storage', choices=['mcap', 'sqlite3'], default='mcap',
                        help='storage of --record (default mcap)')
    parser.add_argument('--report', metavar='FILE', help='write the report as JSON here')
    parser.add_argument('--export-frames', metavar='DIR',
                        help='write overlay PNGs with the boxes and contact_sheet.png here')
    parser.add_argument('--remap', action='append', default=[], metavar='FROM:=TO',
                        help='publish bag topic FROM on topic TO (the node follows); may repeat')
    parser.add_argument('--image-topic', default='/camera/color/image_raw',
                        help='bag topic of the colour image (default %(default)s)')
    parser.add_argument('--camera-info-topic', default='/camera/color/camera_info',
                        help='bag topic of the camera_info (default %(default)s)')
    parser.add_argument('--depth-topic', default='/camera/aligned_depth_to_color/image_raw',
                        help='bag topic of the aligned depth (default %(default)s)')
    parser.add_argument('--gt-topic', default='/enet_ros/ground_truth',
                        help='bag topic of the ground-truth JSON (default %(default)s)')
    parser.add_argument('--gt-mask-topic', default='/enet_ros/ground_truth/mask',
                        help='bag topic of the ground-truth class ids (default %(default)s)')
    parser.add_argument('--transport', choices=['auto', 'raw', 'compressed'], default='auto',
                        help='colour input: raw Image or <image>/compressed (default: raw '
                             'when recorded)')
    depth = parser.add_mutually_exclusive_group()
    depth.add_argument('--depth', dest='use_depth', action='store_true', default=None,
                       help='publish depth and run the node with use_depth (default: when the '
                            'bag has the depth topic, unless the params file says otherwise)')
    depth.add_argument('--no-depth', dest='use_depth', action='store_false',
                       help='colour only')
    parser.add_argument('--attach', action='store_true',
                        help='use an already running node instead of starting one')
    parser.add_argument('--node-name', default='enet', help='node name (default enet)')
    parser.add_argument('--namespace', default='/', help='node namespace (default /)')
    parser.add_argument('--domain-id', type=int,
                        help='ROS domain id of the replay and the node (default: ROS_DOMAIN_ID '
                             'or 0)')
    parser.add_argument('--limit', type=int, metavar='N', help='replay only the first N frames')
    parser.add_argument('--frame-timeout', type=float, default=60.0, metavar='S',
                        help="longest wait for a frame's mask in --fast mode, and for the last "
                             'outputs, seconds (default 60)')
    parser.add_argument('--startup-timeout', type=float, default=180.0, metavar='S',
                        help='longest wait for the node to come up, seconds (default 180)')
    parser.add_argument('--match-threshold', type=float, default=0.1, metavar='M',
                        help='largest centre distance of a matched box, metres (default 0.1)')
    parser.add_argument('--node-log', metavar='FILE', help="write the node's output here")
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Replay, print the report, write it; return 0, or 1 when no frame got an answer."""
    from enet_ros.ros import dds
    dds.apply_large_image_profile()  # before rclpy is initialised in this process
    from enet_ros.cli.common import check_output_dir, check_output_file
    from enet_ros.replay_report import print_report, write_report
    from enet_ros.ros.replay import Replayer, ReplayOptions

    # Output paths are checked before the replay: a bad one must not lose a finished run.
    if args.report:
        check_output_file(args.report, '--report', 'report.json')
    if args.node_log:
        check_output_file(args.node_log, '--node-log', 'node.log')
    if args.record and not os.path.exists(args.record):
        check_output_file(args.record, '--record', 'recorded')   # the folder's parent
    if args.export_frames:
        check_output_dir(args.export_frames, '--export-frames')

    options = ReplayOptions(
        bag=args.bag, weights=args.weights, params_files=args.params, node_params=args.param,
        rate=args.rate, fast=args.fast, record=args.record, record_storage=args.record_storage,
        export_frames=args.export_frames, remaps=args.remap, image_topic=args.image_topic,
        camera_info_topic=args.camera_info_topic, depth_topic=args.depth_topic,
        gt_topic=args.gt_topic, gt_mask_topic=args.gt_mask_topic, transport=args.transport,
        use_depth=args.use_depth, attach=args.attach, node_name=args.node_name,
        namespace=args.namespace, domain_id=args.domain_id, limit=args.limit,
        frame_timeout_s=args.frame_timeout, startup_timeout_s=args.startup_timeout,
        match_threshold_m=args.match_threshold, progress=not args.no_progress,
        node_log=args.node_log, echo_node_log=args.log_level == 'DEBUG')
    report = Replayer(options).run()
    print_report(report, title=f'replay of {os.path.basename(os.path.abspath(args.bag))}')
    if args.report:
        write_report(report, args.report)
        print(f'report: {args.report}')
    if args.export_frames:
        print(f'frames: {args.export_frames}')
    if args.record:
        print(f'recorded outputs: {args.record}')
    if args.log_level == 'DEBUG':
        print(json.dumps(report, indent=2, default=str))
    return 0 if report['frames_out'] > 0 else 1
