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

"""``enet-ros evaluate``: mIoU, per-class IoU, pixel accuracy and confusion matrix of a dataset."""

import argparse
import json
import os

from enet_ros.cli.common import add_backend_arguments, check_output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('--weights', required=True, help='enet_ros checkpoint (.pt)')
    parser.add_argument('--data', required=True, metavar='ROOT', help='dataset root folder')
    parser.add_argument('--format', default='camvid', help='dataset format (camvid, folder, ...)')
    parser.add_argument('--split', default='test', help='split to evaluate (default: test)')
    parser.add_argument('--report', metavar='FILE.json', help='write the report as JSON here')
    parser.add_argument(
        '--plot',
        metavar='FILE.png',
        help='confusion-matrix plot (default: next to the report, .png)',
    )
    parser.add_argument('--limit', type=int, help='evaluate only the first N images')
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the report; return 0."""
    from enet_ros.data import open_dataset
    from enet_ros.evaluation import evaluate_dataset, make_report, plot_confusion_matrix
    from enet_ros.inference import Segmenter

    if args.limit is not None and args.limit < 1:
        raise ValueError(f'--limit {args.limit}: give a number of images >= 1 (or leave it out '
                         'to evaluate them all)')
    if args.report:
        check_output_file(args.report, '--report', 'report.json')
    plot = args.plot or (
        os.path.splitext(args.report)[0] + '_confusion.png' if args.report else None
    )
    if plot:
        check_output_file(plot, '--plot', 'confusion.png')
    dataset = open_dataset(args.data, args.format, args.split)
    segmenter = Segmenter(
        args.weights,
        backend=args.backend,
        device=args.device,
        precision=args.precision,
        resize_policy=args.resize_policy,
    )
    cm = evaluate_dataset(segmenter, dataset, limit=args.limit)
    count = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    report = make_report(cm, dataset.classes.names, count).to_dict()
    report['weights'] = os.path.abspath(args.weights)
    report['dataset'] = {
        'root': os.path.abspath(args.data),
        'format': args.format,
        'split': args.split,
    }
    report['settings'] = {
        'backend': args.backend,
        'device': args.device,
        'precision': args.precision,
        'resize_policy': segmenter.resize_policy,
        'resolution': segmenter.resolution,
    }
    print(f'{dataset.name}: {count} images')
    for name, iou in report['per_class_iou'].items():
        print(f'  {name:<14} IoU {"n/a" if iou is None else f"{iou:.4f}"}')
    print(f'mIoU {report["miou"]:.4f}  pixel accuracy {report["pixel_accuracy"]:.4f}')
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'report: {args.report}')
    if plot:
        plot_confusion_matrix(cm.matrix, dataset.classes.names, plot)
        print(f'confusion matrix: {plot}')
    return 0
