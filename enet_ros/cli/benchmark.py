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

"""``enet-ros benchmark``: latency, throughput and memory of a backend, beside the seed code.

Prints a side-by-side table and writes a JSON report whose keys include ``latency_ms.median``,
``latency_ms.p90``, ``model_ms.median``, ``throughput_fps``, ``peak_memory_mb``,
``baseline.latency_ms.median`` and ``speedup_vs_baseline`` (nested objects). See
:mod:`enet_ros.inference.benchmark` for what is timed and how.
"""

import argparse
import json
import os
from typing import Any, Dict, List

from enet_ros.cli.common import check_output_file, parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('--weights', required=True, help='enet_ros checkpoint (.pt)')
    parser.add_argument('--backend', default='torch', choices=['torch', 'onnxruntime', 'tensorrt'],
                        help='inference backend (default: torch)')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N' (default: cpu)")
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'fp16', 'bf16'],
                        help='inference precision (default: fp32)')
    parser.add_argument('--size', default='640x480', metavar='WxH',
                        help='image and network size in pixels (default: 640x480)')
    parser.add_argument('--batch', type=int, default=1, help='images per call (default: 1)')
    parser.add_argument('--iters', type=int, default=30, help='timed rounds (default: 30)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed rounds first (default: 3)')
    parser.add_argument('--no-baseline', action='store_true', help='do not time the seed code')
    parser.add_argument('--option', action='append', default=[], metavar='KEY=VALUE',
                        help='backend option, repeatable (e.g. channels_last=false, '
                             'compile_mode=aot, intra_op_threads=2, engine_cache_dir=DIR)')
    parser.add_argument('--report', metavar='FILE.json', help='write the report as JSON here')


def parse_options(items: List[str]) -> Dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (true/false, integers, floats, none, else text).

    Raises:
        ValueError: For an item without ``=``.
    """
    out: Dict[str, Any] = {}
    for item in items:
        if '=' not in item:
            raise ValueError(f'--option {item!r} is not KEY=VALUE')
        key, text = item.split('=', 1)
        low = text.strip().lower()
        value: Any = text
        if low in ('true', 'yes', 'on'):
            value = True
        elif low in ('false', 'no', 'off'):
            value = False
        elif low == 'none':
            value = None
        else:
            for cast in (int, float):
                try:
                    value = cast(text)
                    break
                except ValueError:
                    pass
        out[key.strip().replace('-', '_')] = value
    return out


def table_rows(report: Dict[str, Any]) -> List[List[str]]:
    """Rows (header first) of the side-by-side table of a benchmark report."""
    def ms(d: Dict[str, Any], key: str, stat: str) -> str:
        value = (d.get(key) or {}).get(stat)
        return '-' if value is None else f'{value:.1f}'

    def num(value: Any, fmt: str) -> str:
        return '-' if value is None else format(value, fmt)

    rows = [['', 'e2e median ms', 'e2e p90 ms', 'model median ms', 'throughput fps',
             'peak memory MB']]
    rows.append([report.get('name', 'candidate'), ms(report, 'latency_ms', 'median'),
                 ms(report, 'latency_ms', 'p90'), ms(report, 'model_ms', 'median'),
                 num(report.get('throughput_fps'), '.1f'),
                 num(report.get('peak_memory_mb'), '.0f')])
    base = report.get('baseline', {})
    if 'latency_ms' in base:
        rows.append(['seed baseline (eager fp32)', ms(base, 'latency_ms', 'median'),
                     ms(base, 'latency_ms', 'p90'), ms(base, 'model_ms', 'median'),
                     num(base.get('throughput_fps'), '.1f'),
                     num(base.get('peak_memory_mb'), '.0f')])
    return rows


def print_table(rows: List[List[str]]) -> None:
    """Print rows as an aligned table (rich when installed, else plain text)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print('  '.join(cell.rjust(w) if i else cell.ljust(w)
                            for i, (cell, w) in enumerate(zip(row, widths))))
        return
    console = Console()
    if not console.is_terminal:  # files and pipes: wide enough for one line per row
        console = Console(width=140)
    table = Table()
    for i, head in enumerate(rows[0]):
        table.add_column(head, justify='left' if i == 0 else 'right', no_wrap=i == 0)
    for row in rows[1:]:
        table.add_row(*row)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    """Benchmark, print the table and summary, write the report; return 0."""
    from enet_ros.inference.benchmark import benchmark

    size = parse_size(args.size)
    if args.report:
        check_output_file(args.report, '--report', 'report.json')
    report = benchmark(args.weights, backend=args.backend, device=args.device,
                       precision=args.precision, size=size, batch=args.batch, iters=args.iters,
                       warmup=args.warmup, baseline=not args.no_baseline,
                       options=parse_options(args.option))
    env = report['environment']
    print(f'{report["description"]}; {size[0]}x{size[1]}, batch {args.batch}, {args.iters} rounds '
          f'interleaved with the baseline; load average {env.get("loadavg")} -> '
          f'{env.get("loadavg_after")}')
    print_table(table_rows(report))
    base = report['baseline']
    if report.get('speedup_vs_baseline') is not None:
        print(f'speedup vs the seed code: {report["speedup_vs_baseline"]:.2f}x end to end, '
              f'{report["model_speedup_vs_baseline"]:.2f}x model only')
    else:
        print(f'baseline skipped: {base.get("skipped")}')
    if report.get('class_id_agreement') is not None:
        print(f'class ids identical to the {report["agreement_reference"]} path on '
              f'{100 * report["class_id_agreement"]:.4f}% of pixels')
    print(f'peak memory: {report["peak_memory_mb"]:.0f} MB ({report["memory_method"]}); '
          f'start-up {report["startup_s"]:.1f} s')
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'report: {args.report}')
    return 0
