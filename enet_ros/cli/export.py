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

"""``enet-ros export``: ONNX without MaxUnpool, checked, and verified against PyTorch.

Exit status 0 when the graph passes ``onnx.checker``, has no MaxUnpool node and meets the parity
thresholds (argmax agreement >= 99.9% of pixels, max abs logit difference <= 1e-3 in fp32); 1
otherwise (the file is then not written).
"""

import argparse
import json
import os

from enet_ros.cli.common import check_output_file, parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('--weights', required=True, help='enet_ros checkpoint (.pt)')
    parser.add_argument('--out', required=True, metavar='FILE.onnx', help='ONNX file to write')
    parser.add_argument('--size', metavar='WxH',
                        help='input width x height in pixels (default: the resolution in the '
                             'checkpoint); any size, not only multiples of 8')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='dynamic batch dimension (verified at batch 1 and 3)')
    parser.add_argument('--batch', type=int, default=1, help='fixed batch size (default: 1)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset, >= 17 (default: 17)')
    parser.add_argument('--report', metavar='FILE.json',
                        help='also write the parity report as JSON')


def run(args: argparse.Namespace) -> int:
    """Export, print the structure and parity report; return 0 on success, 1 on failed parity."""
    from enet_ros.inference.export import export_onnx, ExportError

    size = parse_size(args.size) if args.size else None
    check_output_file(args.out, '--out', 'enet.onnx')
    if args.report:
        check_output_file(args.report, '--report', 'report.json')
    try:
        report = export_onnx(args.weights, args.out, size=size, dynamic_batch=args.dynamic_batch,
                             opset=args.opset, batch=args.batch, verify=True, check=True)
    except ExportError as exc:
        print(f'enet-ros export: FAILED: {exc}')
        return 1
    for line in report.lines():
        print(line)
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(report.to_dict(), f, indent=2)
        print(f'report: {args.report}')
    print('parity: PASS')
    return 0
