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

"""``enet-ros synth``: render synthetic RGB-D carton scenes (and optionally a rosbag2).

Example::

    enet-ros synth --out /tmp/synth --count 8 --seed 1 --bag /tmp/synth/bag

writes ``/tmp/synth/{rgb,mask,instance,depth,camera_info,gt}/NAME.*`` and ``dataset.json``
(layout: :mod:`enet_ros.synth.writer`) and a bag with RealSense topic names plus ground-truth
topics (:mod:`enet_ros.synth.bag`). The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Dict, Tuple

DESCRIPTION = __doc__
_EXT = {'camera_info': 'yaml', 'gt': 'json'}


def _size(text: str) -> Tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480') from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f'--size {text!r}: use at least 16x16')
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``synth`` options on ``parser``."""
    parser.add_argument('--out', required=True, help='output folder (created if missing)')
    parser.add_argument('--count', type=int, default=100, help='number of scenes (default 100)')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed, >= 0 (default 0)')
    parser.add_argument('--size', type=_size, default=(640, 480), metavar='WxH',
                        help='image size in pixels (default 640x480; small sizes such as 64x48 '
                        'are fine for tests)')
    parser.add_argument('--bag', default=None, metavar='DIR',
                        help='also write a rosbag2 to this (new) folder')
    parser.add_argument('--bag-storage', choices=['mcap', 'sqlite3'], default='mcap',
                        help='rosbag2 storage plugin (default mcap)')
    parser.add_argument('--no-bag-gt-images', action='store_true',
                        help='leave the ground-truth mask/instance images out of the bag')
    parser.add_argument('--rate', type=float, default=5.0,
                        help='frame rate for header stamps and the bag, Hz (default 5)')
    parser.add_argument('--stamp-start', type=float, default=1700000000.0,
                        help='stamp of scene 0, seconds since the epoch (default 1700000000)')
    parser.add_argument('--boundary-px', type=int, default=2,
                        help='width of the box_boundary band (class 2) inside each top-face '
                        'outline, pixels; 0 = no class 2 (default 2)')
    parser.add_argument('--side-faces', choices=['background', 'ignore'], default='background',
                        help='label of carton side faces in the mask: background (0, default, as '
                        'the real ground truth) or ignore (255)')
    parser.add_argument('--layouts', default='',
                        help='comma-separated subset of pallet,floor,conveyor,scattered '
                        '(default: all, weighted towards pallets)')
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes (default 1; output is identical for any value)')
    parser.add_argument('--preview', action='store_true',
                        help='also write preview/NAME.png (colour | classes | depth)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the dataset of a folder that already holds a '
                        'dataset.json (the scene files it lists are removed first; other files '
                        'stay)')


def _config(args: argparse.Namespace):
    from enet_ros.synth import IGNORE_LABEL, SynthConfig
    layouts = tuple(x.strip() for x in args.layouts.split(',') if x.strip())
    cfg = SynthConfig(width=args.size[0], height=args.size[1], boundary_px=args.boundary_px,
                      side_label=IGNORE_LABEL if args.side_faces == 'ignore' else 0,
                      layouts=layouts, rate_hz=args.rate,
                      stamp_start_ns=int(args.stamp_start) * 10 ** 9
                      + int(round((args.stamp_start % 1.0) * 1e9)))
    cfg.validate()
    return cfg


def _work(task):
    """Render and write one scene (runs in a worker process or inline)."""
    import cv2
    from enet_ros.synth import CLASS_COLORS, generate_sample
    from enet_ros.synth.writer import json_text, write_sample
    seed, index, cfg, out, preview, want_sample, single_thread = task
    if single_thread:
        cv2.setNumThreads(1)
    t0 = time.perf_counter()
    sample = generate_sample(seed, index, cfg)
    t1 = time.perf_counter()
    write_sample(out, sample, preview=preview, colors=CLASS_COLORS)
    boxes = sample.gt['boxes']
    summary = {'boxes': len(boxes), 'visible': sum(1 for b in boxes if b['visible_px'] > 0),
               'render_s': t1 - t0, 'total_s': time.perf_counter() - t0,
               'layout': sample.scene.layout}
    return summary, ((sample, json_text(sample.gt)) if want_sample else None)


def _remove_previous_scenes(out: str) -> None:
    """Delete the scene files that ``out/dataset.json`` lists (before ``--overwrite``).

    A smaller new ``--count`` would otherwise leave the old scenes' files behind next to the new
    ones. Only the files named by the old dataset.json are removed; anything else stays.

    Raises:
        ValueError: If the old dataset.json cannot be read (naming the fix).
    """
    import json
    path = os.path.join(out, 'dataset.json')
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
        names = [str(n) for n in doc['scenes']]
        patterns = dict(doc['files'])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'--overwrite: cannot read the previous {path} ({exc}) to remove its '
                         'scenes; delete the folder by hand or choose another --out') from None
    for pattern in patterns.values():
        for name in names:
            file = os.path.join(out, str(pattern).format(name=name))
            if os.path.isfile(file):
                os.remove(file)
    for name in names:
        file = os.path.join(out, 'preview', f'{name}.png')
        if os.path.isfile(file):
            os.remove(file)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset; print a short report; return 0 on success."""
    from tqdm import tqdm

    from enet_ros.cli.common import check_output_dir, check_output_file
    from enet_ros.synth import CLASS_COLORS, CLASS_NAMES, IGNORE_LABEL, LAYOUTS, SYNTH_VERSION
    from enet_ros.synth.bag import SynthBagWriter, TOPICS
    from enet_ros.synth.groundtruth import FRAME_ID
    from enet_ros.synth.writer import prepare_output, SUBDIRS, write_dataset_json

    if args.count < 1:
        raise ValueError(f'--count must be >= 1, got {args.count}')
    if args.seed < 0:
        raise ValueError(f'--seed must be >= 0, got {args.seed}')
    if args.workers < 1:
        raise ValueError(f'--workers must be >= 1, got {args.workers}')
    cfg = _config(args)
    out = args.out
    if os.path.exists(os.path.join(out, 'dataset.json')) and not args.overwrite:
        # ValueError (not FileExistsError): the CLI reports it as one clear line.
        raise ValueError(f'{out} already holds a dataset.json; pass --overwrite or choose '
                         'another --out')
    if args.bag and os.path.exists(args.bag):
        raise ValueError(f'--bag {args.bag} exists; remove it or choose another path')
    if args.bag and os.path.abspath(args.bag) in {os.path.abspath(os.path.join(out, sub))
                                                  for sub in ('',) + SUBDIRS + ('preview',)}:
        raise ValueError(f'--bag {args.bag} is the dataset folder --out {out} or one of its '
                         f'sub-folders; give the bag a folder of its own, e.g. '
                         f'{os.path.join(out, "bag")}')
    check_output_dir(out, '--out')
    if args.bag:
        check_output_file(args.bag, '--bag', example='bag')     # creates its parent folder
    if args.overwrite:
        _remove_previous_scenes(out)
    prepare_output(out, preview=args.preview)
    # Lazy: a huge --count streams scenes instead of building the whole task list first.
    tasks = ((args.seed, i, cfg, out, args.preview, bool(args.bag), args.workers > 1)
             for i in range(args.count))
    bag = None
    if args.bag:
        bag = SynthBagWriter(args.bag, storage=args.bag_storage,
                             gt_images=not args.no_bag_gt_images).__enter__()
    stats: Dict[str, float] = {'boxes': 0, 'visible': 0, 'render_s': 0.0, 'total_s': 0.0}
    layouts: Dict[str, int] = {}
    t0 = time.perf_counter()
    pool = None
    try:
        if args.workers > 1:
            import multiprocessing
            pool = multiprocessing.get_context('spawn').Pool(args.workers)
            results = pool.imap(_work, tasks)
        else:
            results = map(_work, tasks)
        for summary, payload in tqdm(results, total=args.count, unit='scene', desc='synth'):
            for key in stats:
                stats[key] += summary[key]
            layouts[summary['layout']] = layouts.get(summary['layout'], 0) + 1
            if bag is not None and payload is not None:
                bag.write(payload[0], gt_text=payload[1])
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bag is not None:
            bag.__exit__(None, None, None)
    wall = time.perf_counter() - t0
    doc = {
        'generator': 'enet_ros.synth',
        'version': SYNTH_VERSION,
        'seed': int(args.seed),
        'count': int(args.count),
        'size': {'width': cfg.width, 'height': cfg.height},
        'classes': {'names': list(CLASS_NAMES), 'colors': [list(c) for c in CLASS_COLORS],
                    'ignore_index': IGNORE_LABEL if cfg.side_label else None},
        'labels': {'boundary_px': cfg.boundary_px, 'side_faces': args.side_faces,
                   'instance': 'uint16, 0 none, k = top face of gt box id k',
                   'depth': 'uint16 millimetres, 0 = no data'},
        'layouts': list(cfg.layouts or LAYOUTS),
        'frame_id': FRAME_ID,
        'stamps': {'start_ns': cfg.stamp_start_ns, 'rate_hz': cfg.rate_hz},
        'files': {k: f'{k}/{{name}}.{_EXT.get(k, "png")}' for k in SUBDIRS},
        'scenes': [f'{i:06d}' for i in range(args.count)],
        'bag': ({'storage': args.bag_storage, 'topics': dict(TOPICS)} if args.bag else None),
    }
    write_dataset_json(out, doc)
    n = args.count
    print(f'synth: {n} scenes ({cfg.width}x{cfg.height}, seed {args.seed}, version '
          f'{SYNTH_VERSION}) -> {out}')
    print(f'  layouts: {", ".join(f"{k} {v}" for k, v in sorted(layouts.items()))}')
    print(f'  cartons: {int(stats["boxes"])} in total, {int(stats["visible"])} with a visible '
          'top face')
    print(f'  time: {wall:.1f} s wall, {wall / n:.3f} s/scene; render {stats["render_s"] / n:.3f} '
          f's/scene, render+write {stats["total_s"] / n:.3f} s/scene (per worker)')
    if args.bag:
        print(f'  bag: {args.bag} ({args.bag_storage}, {n} frames at {cfg.rate_hz:g} Hz)')
    return 0
