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

"""``enet-ros infer``: class-id PNG masks and colour overlays for image files and folders."""

import argparse
import logging
import os
import sys

from enet_ros.cli.common import add_backend_arguments, check_output_dir

LOG = logging.getLogger('enet_ros.infer')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('inputs', nargs='+', metavar='INPUT', help='image files and/or folders')
    parser.add_argument('--weights', required=True, help='enet_ros checkpoint (.pt)')
    parser.add_argument('--out', required=True, metavar='DIR', help='output folder')
    parser.add_argument('--overlay-alpha', type=float, default=0.5,
                        help='weight of the class colours in the overlay, 0..1 (default 0.5)')
    parser.add_argument('--recursive', action='store_true', help='descend into sub-folders')
    add_backend_arguments(parser)


def list_inputs(inputs, recursive=False):
    """Return ``[(path, relative output stem)]`` for files and the images inside folders.

    Raises:
        FileNotFoundError: If an input does not exist.
        ValueError: If no image is found.
    """
    from enet_ros.data.formats import IMAGE_EXTENSIONS
    found = []
    for item in inputs:
        if os.path.isfile(item):
            found.append((item, os.path.splitext(os.path.basename(item))[0]))
        elif os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(IMAGE_EXTENSIONS):
                        path = os.path.join(root, name)
                        found.append((path, os.path.splitext(os.path.relpath(path, item))[0]))
                if not recursive:
                    break
        else:
            raise FileNotFoundError(f'input {item!r} is neither a file nor a folder')
    if not found:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {inputs}')
    return found


def run(args: argparse.Namespace) -> int:
    """Segment every input; write ``<stem>_mask.png`` and ``<stem>_overlay.png``.

    A file that cannot be read or decoded is skipped with a warning naming it; the others are
    processed.

    Returns:
        0 when every image was segmented, 1 when some were skipped.
    """
    import cv2
    import numpy as np
    from tqdm import tqdm

    from enet_ros.data.formats import read_image_rgb
    from enet_ros.inference import Segmenter
    from enet_ros.viz import Colorizer

    if not 0.0 <= args.overlay_alpha <= 1.0:
        raise ValueError(f'--overlay-alpha {args.overlay_alpha} is outside 0..1')
    items = list_inputs(args.inputs, args.recursive)
    check_output_dir(args.out, '--out')
    segmenter = Segmenter(args.weights, backend=args.backend, device=args.device,
                          precision=args.precision, resize_policy=args.resize_policy)
    colorizer = Colorizer(segmenter.meta.classes.colors)
    counts = {}
    failed = []
    for path, stem in tqdm(items, desc='infer', unit='img'):
        try:
            image = read_image_rgb(path)
        except (ValueError, OSError) as exc:
            LOG.warning('skipping %s: %s', path, exc)
            failed.append(path)
            continue
        result = segmenter(image)
        target = os.path.join(args.out, stem)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not cv2.imwrite(target + '_mask.png', result.class_ids):
            raise RuntimeError(f'cannot write {target}_mask.png')
        overlay = colorizer.overlay(image, result.class_ids, args.overlay_alpha)
        cv2.imwrite(target + '_overlay.png', cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        for cid, n in zip(*np.unique(result.class_ids, return_counts=True)):
            counts[int(cid)] = counts.get(int(cid), 0) + int(n)
    total = sum(counts.values())
    done = len(items) - len(failed)
    print(f'{done} images -> {args.out} (<stem>_mask.png class ids, <stem>_overlay.png)')
    for cid in sorted(counts):
        name = segmenter.meta.classes.names[cid] if cid < segmenter.num_classes else str(cid)
        print(f'  {name:<14} {100.0 * counts[cid] / total:6.2f}% of pixels')
    if failed:
        print(f'enet-ros infer: {len(failed)} of {len(items)} files could not be read and were '
              f'skipped: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0
