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

"""Write synthetic samples to a dataset folder (one sub-folder per kind, one file per scene).

Layout of ``OUT/`` (``NAME`` = zero-padded scene index, e.g. ``000042``)::

    dataset.json               dataset description (version, seed, count, classes, layout)
    rgb/NAME.png               8-bit RGB colour image (PNG stores it as usual, BGR on disk via cv2)
    mask/NAME.png              uint8 class ids: 0 background, 1 box top face, 2 box_boundary
                               (255 = carton side face if generated with side faces = ignore)
    instance/NAME.png          uint16 instance ids: 0 none, k = top face of box ``id == k``
    depth/NAME.png             uint16 depth in millimetres (16UC1), 0 = no data
    camera_info/NAME.yaml      sensor_msgs/msg/CameraInfo fields (ROS 2 names: d, k, r, p)
    gt/NAME.json               ground truth (see :mod:`enet_ros.synth.groundtruth`)
    preview/NAME.png           optional: colour | class colours | depth, side by side

Every file is a deterministic function of (seed, index, options): PNGs are written with a fixed
zlib level and JSON/YAML with a fixed key order and no timestamps or paths.
"""

from __future__ import annotations

import json
import os
from typing import Dict, Iterable

import cv2
from enet_ros.synth.generate import Sample
import numpy as np
import yaml

SUBDIRS = ('rgb', 'mask', 'instance', 'depth', 'camera_info', 'gt')
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def _imwrite(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, image, PNG_PARAMS):
        raise RuntimeError(f'could not write {path}; check that the folder is writable')


def json_text(doc: Dict) -> str:
    """Serialise a document deterministically (2-space indent, insertion order, newline)."""
    return json.dumps(doc, indent=2, allow_nan=False) + '\n'


def prepare_output(out_dir: str, preview: bool = False) -> None:
    """Create ``out_dir`` and its sub-folders."""
    for sub in SUBDIRS + (('preview',) if preview else ()):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)


def preview_image(sample: Sample, colors: Iterable) -> np.ndarray:
    """Colour | class colours over a dimmed colour image | depth colour map, (H, 3W, 3) BGR."""
    fr = sample.frame
    palette = np.zeros((256, 3), np.uint8)
    for i, c in enumerate(colors):
        palette[i] = c
    palette[255] = (128, 128, 128)
    rgb = fr.rgb
    cls = palette[fr.mask]
    over = np.where(fr.mask[..., None] > 0, cls, (rgb * 0.4).astype(np.uint8))
    d = fr.depth_mm.astype(np.float32)
    valid = d > 0
    lo, hi = (np.percentile(d[valid], [2, 98]) if valid.any() else (0.0, 1.0))
    dn = np.clip((d - lo) / max(hi - lo, 1.0) * 255.0, 0, 255).astype(np.uint8)
    dc = cv2.applyColorMap(dn, cv2.COLORMAP_TURBO)
    dc[~valid] = 0
    return np.hstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cv2.cvtColor(over, cv2.COLOR_RGB2BGR),
                      dc])


def write_sample(out_dir: str, sample: Sample, preview: bool = False,
                 colors: Iterable = ()) -> Dict[str, str]:
    """Write one sample's files.

    Args:
        out_dir: Dataset folder (see module docstring); sub-folders must exist
            (:func:`prepare_output`).
        sample: The generated sample.
        preview: Also write ``preview/NAME.png``.
        colors: Class colours (RGB) for the preview.

    Returns:
        ``{kind: path}`` of the written files.
    """
    fr = sample.frame
    name = sample.name
    paths = {k: os.path.join(out_dir, k, f'{name}.png')
             for k in ('rgb', 'mask', 'instance', 'depth')}
    paths['camera_info'] = os.path.join(out_dir, 'camera_info', f'{name}.yaml')
    paths['gt'] = os.path.join(out_dir, 'gt', f'{name}.json')
    _imwrite(paths['rgb'], cv2.cvtColor(fr.rgb, cv2.COLOR_RGB2BGR))
    _imwrite(paths['mask'], fr.mask)
    _imwrite(paths['instance'], fr.instance)
    _imwrite(paths['depth'], fr.depth_mm)
    with open(paths['camera_info'], 'w', encoding='utf-8') as f:
        yaml.safe_dump(sample.camera_info, f, sort_keys=False, default_flow_style=None)
    with open(paths['gt'], 'w', encoding='utf-8') as f:
        f.write(json_text(sample.gt))
    if preview:
        paths['preview'] = os.path.join(out_dir, 'preview', f'{name}.png')
        _imwrite(paths['preview'], preview_image(sample, colors))
    return paths


def write_dataset_json(out_dir: str, doc: Dict) -> str:
    """Write ``OUT/dataset.json``; return its path."""
    path = os.path.join(out_dir, 'dataset.json')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json_text(doc))
    return path
