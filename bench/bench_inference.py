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

"""CPU inference backends beside the seed code at 640x480, one interleaved run per model.

Candidates: torch eager fp32 (NCHW), torch eager fp32 channels_last, torch compiled ahead of time
(AOTInductor, cached), onnxruntime CPU. Models: the shipped box model's layout (paper ENet, 3
classes, seed-initialised random weights: speed does not depend on the values) and, when
../shared/data holds it, the converted davidtvs 2018 CamVid checkpoint (12 classes, 3x3 pooling,
PReLU decoder).

End to end = uint8 image in, class ids and confidence out (``Segmenter.__call__``); model = the
backend alone; baseline = the seed code path (see :mod:`enet_ros.inference.benchmark`). Agreement =
fraction of pixels whose class id equals the torch fp32 path's. The machine is shared: read the
load average printed with the table, and compare ratios of one run rather than absolute figures.

Run: ``.venv/bin/python bench/bench_inference.py [--iters N] [--threads N] [--no-compile]``
"""

import argparse
import json
import logging
import os
from pathlib import Path
import sys
import tempfile

from enet_ros.inference.benchmark import Candidate, compare
from enet_ros.model.checkpoint import (CheckpointMeta, ClassInfo, Preprocessing,
                                       save_checkpoint)
from enet_ros.model.enet import ENet, ENetArch
import torch

DAVIDTVS = 'enet_weights/davidtvs_ENet_CamVid_2018-03-04_state_dict.pth'


def box_model(folder: str) -> str:
    """Write the box model's layout (paper ENet, 3 classes, 640x480 native) with random weights."""
    torch.manual_seed(0)
    model = ENet(ENetArch(num_classes=3)).eval()
    meta = CheckpointMeta(ENetArch(num_classes=3),
                          ClassInfo(('background', 'box', 'box_boundary'),
                                    ((0, 0, 0), (255, 160, 0), (255, 255, 255))),
                          Preprocessing('RGB', 1 / 255, (0.485, 0.456, 0.406),
                                        (0.229, 0.224, 0.225), (640, 480), 'native'))
    path = os.path.join(folder, 'box_layout.pt')
    save_checkpoint(path, model, meta)
    return path


def davidtvs_model(folder: str, shared: Path):
    """Convert the davidtvs 2018 checkpoint from the shared data, or return None if absent."""
    source = shared / DAVIDTVS
    if not source.is_file():
        return None
    from enet_ros.model.convert import convert_file
    model, meta = convert_file(str(source))
    path = os.path.join(folder, 'davidtvs_2018.pt')
    save_checkpoint(path, model, meta)
    return path


def main() -> int:
    """Run the matrix and print one table per model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--iters', type=int, default=20, help='timed rounds (default 20)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed rounds (default 3)')
    parser.add_argument('--threads', type=int, help='torch / onnxruntime threads (default: all)')
    parser.add_argument('--size', default='640x480', help='WxH (default 640x480)')
    parser.add_argument('--no-compile', action='store_true',
                        help='skip the AOTInductor candidate (its first build takes minutes)')
    parser.add_argument('--cache', default=None,
                        help='engine cache folder (default: ~/.cache/enet_ros/...)')
    parser.add_argument('--json', help='also write all results to this JSON file')
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split('x'))
    shared = Path(os.environ.get('ENET_ROS_SHARED_DATA',
                                 Path(__file__).resolve().parents[2] / 'shared' / 'data'))
    cache = {'engine_cache_dir': args.cache} if args.cache else {}
    candidates = [Candidate('torch fp32', options={'channels_last': False}),
                  Candidate('torch fp32 channels_last', options={'channels_last': True})]
    if not args.no_compile:
        candidates.append(Candidate('torch fp32 compiled (AOT)',
                                    options={'compile_mode': 'aot', **cache}))
    candidates.append(Candidate('onnxruntime fp32', 'onnxruntime', options=dict(cache)))
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        models = [('box layout (paper ENet, 3 classes)', box_model(folder))]
        david = davidtvs_model(folder, shared)
        if david:
            models.append(('davidtvs 2018 CamVid (12 classes)', david))
        else:
            print(f'davidtvs checkpoint not found under {shared}: skipped', file=sys.stderr)
        for title, path in models:
            result = compare(path, candidates, size=(width, height), iters=args.iters,
                             warmup=args.warmup)
            results[title] = result
            print_result(title, result)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=2)
    return 0


def print_result(title: str, result: dict) -> None:
    """Print one model's table."""
    env = result['environment']
    w, h = result['size']
    print(f'\n{title} at {w}x{h}, batch {result["batch"]}, {result["iterations"]} interleaved '
          f'rounds; torch {env["torch"]} ({env["torch_threads"]} threads), onnxruntime '
          f'{env.get("onnxruntime")}, {env["cpu"]}; load average {env.get("loadavg")} -> '
          f'{env.get("loadavg_after")}')
    head = (f'{"":30s} {"e2e med":>8s} {"e2e p90":>8s} {"model":>8s} {"speedup":>8s} '
            f'{"model x":>8s} {"agree %":>9s} {"start s":>8s} {"mem MB":>7s}')
    print(head)
    base = result['baseline']
    if 'latency_ms' in base:
        print(f'{"seed baseline (eager fp32)":30s} {base["latency_ms"]["median"]:8.1f} '
              f'{base["latency_ms"]["p90"]:8.1f} {base["model_ms"]["median"]:8.1f} {1.0:8.2f} '
              f'{1.0:8.2f} {"":>9s} {"":>8s} {base.get("peak_memory_mb", 0):7.0f}')
    for rep in result['candidates']:
        speed = rep.get('speedup_vs_baseline')
        model_x = rep.get('model_speedup_vs_baseline')
        print(f'{rep["name"]:30s} {rep["latency_ms"]["median"]:8.1f} '
              f'{rep["latency_ms"]["p90"]:8.1f} {rep["model_ms"]["median"]:8.1f} '
              f'{speed if speed is not None else float("nan"):8.2f} '
              f'{model_x if model_x is not None else float("nan"):8.2f} '
              f'{100 * rep.get("class_id_agreement", float("nan")):9.4f} '
              f'{rep["startup_s"]:8.1f} {rep["peak_memory_mb"]:7.0f}')


if __name__ == '__main__':
    sys.exit(main())
