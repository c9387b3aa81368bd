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

"""Training configuration: YAML file + ``key=value`` overrides over documented defaults.

A configuration is a plain nested dict (what checkpoints store in their provenance). Every key
must be one of :data:`DEFAULTS` (an unknown key is an error naming it and its section's keys);
values are coerced to the default's type (``optim.lr=1e-3`` is a float even though YAML reads
``1e-3`` as a string). The defaults are the paper's settings (Paszke et al. 2016, Section 5.2:
Adam, learning rate 5e-4, weight decay 2e-4, batch size 10, class weights
``1 / ln(1.02 + p_class)``).

``augmentation`` is a list of albumentations transforms, each a mapping with ``name`` (the class
name in ``albumentations``) and that class's keyword arguments; ``OneOf`` / ``SomeOf`` /
``Sequential`` take a ``transforms`` list of the same form. Masks use nearest-neighbour
interpolation (the albumentations default), and pixels that a geometric transform pads get the
ignore label unless ``fill_mask`` is given.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from enet_ros.yaml_errors import yaml_error_location
import yaml

# The default augmentation: flips, small rotation / scale / shift, a crop to the training size,
# colour and brightness jitter, blur, sensor noise and JPEG artefacts.
DEFAULT_AUGMENTATION: List[Dict[str, Any]] = [
    {'name': 'HorizontalFlip', 'p': 0.5},
    {'name': 'VerticalFlip', 'p': 0.5},
    {'name': 'Affine', 'scale': [0.8, 1.25], 'rotate': [-10, 10], 'p': 0.7},
    {'name': 'PadIfNeeded', 'min_height': 240, 'min_width': 320},
    {'name': 'RandomCrop', 'height': 240, 'width': 320},
    {'name': 'ColorJitter', 'brightness': 0.3, 'contrast': 0.3, 'saturation': 0.3, 'hue': 0.03,
     'p': 0.8},
    {'name': 'RandomBrightnessContrast', 'p': 0.3},
    {'name': 'OneOf', 'p': 0.3, 'transforms': [
        {'name': 'GaussianBlur', 'blur_limit': [3, 5]},
        {'name': 'MotionBlur', 'blur_limit': [3, 5]}]},
    {'name': 'GaussNoise', 'std_range': [0.01, 0.05], 'p': 0.3},
    {'name': 'ImageCompression', 'quality_range': [40, 95], 'p': 0.3},
]

DEFAULTS: Dict[str, Any] = {
    'seed': 0,                # 0 .. 2**32 - 1: python / numpy / torch seed (augmentation too)
    'device': 'auto',         # 'auto' (cuda if available), 'cpu', 'cuda', 'cuda:N'
    'amp': True,              # mixed precision (torch.autocast + GradScaler), CUDA only
    'deterministic': False,   # torch.use_deterministic_algorithms(True)
    'threads': 0,             # torch CPU threads, >= 0 (0: torch's default)
    'workers': 2,             # DataLoader worker processes
    'output': 'runs/train',   # run folder: checkpoints, logs, plots
    'data': {
        'format': 'folder',   # camvid, cityscapes, folder, labelme, coco, synth
        'root': None,         # dataset folder, or a list of folders of one format (required)
        'split': 'train',     # training split
        'val_root': None,     # validation dataset folder(s) (default: root)
        'val_format': None,   # its format (default: format)
        'val_split': 'val',   # validation split
        'val_fraction': 0.0,  # > 0: hold this fraction of the training data out for validation
        'classes': None,      # class list: built-in name or YAML file (default: the dataset's)
        'limit_train': None,  # use only the first N >= 1 training samples (null: all)
        'limit_val': None,    # use only the first N >= 1 validation samples (null: all)
    },
    'model': {
        'variant': 'paper',   # ENet layout (ENetArch defaults = the paper)
        'num_classes': None,  # >= 1 (null: the number of class names)
        'init': None,         # enet_ros checkpoint to start from (fine-tuning)
    },
    'input': {
        'resolution': None,       # network (width, height) stored in the checkpoint; None = any
        'resize_policy': 'native',  # stretch, letterbox or native: how images reach resolution
        'channel_order': 'RGB',
        'scale': 1.0 / 255.0,     # input = (pixel * scale - mean) / std
        'mean': [0.0, 0.0, 0.0],
        'std': [1.0, 1.0, 1.0],
    },
    'augmentation': DEFAULT_AUGMENTATION,
    'optim': {
        'name': 'adam',           # adam (the paper), adamw or sgd
        'lr': 5e-4,
        'weight_decay': 2e-4,
        'betas': [0.9, 0.999],
        'momentum': 0.9,          # sgd only
        'grad_clip': 0.0,         # > 0: clip the gradient norm
    },
    'schedule': {
        'epochs': 300,
        'batch_size': 10,          # per process
        'lr_policy': 'constant',   # constant (the paper), poly, step or cosine
        'poly_power': 0.9,
        'step_epochs': 100,        # step: multiply by step_gamma every step_epochs
        'step_gamma': 0.1,
        'warmup_iters': 0,         # linear warm-up from 0 over this many iterations
        'iters_per_epoch': None,   # cap the iterations of an epoch, >= 1 (null: all data)
        'val_every': 1,            # validate every N epochs (and after the last)
    },
    'loss': {
        'class_weighting': 'enet',  # enet (1 / ln(c + p_class)), none, or a list of C weights
        'enet_c': 1.02,
        'weight_samples': None,     # estimate p_class on N >= 1 training labels (null: all)
    },
    'log': {
        'every': 10,             # CSV / TensorBoard row every N iterations
        'tensorboard': True,
        'progress': True,        # tqdm bars
        'plots': True,           # PNG curves and confusion matrix after each validation
    },
}

FREE_FORM = ('augmentation',)        # lists whose entries are not checked against DEFAULTS here
LIST_OR_NONE = {('input', 'resolution'), ('loss', 'class_weighting')}
MAX_SEED = 2 ** 32 - 1
# Keys that are null or a count >= 1 (0 is refused: null is how to say "no limit").
OPTIONAL_COUNTS = (('data', 'limit_train', 'no limit'), ('data', 'limit_val', 'no limit'),
                   ('model', 'num_classes', 'the number of class names'),
                   ('schedule', 'iters_per_epoch', 'the whole training set'),
                   ('loss', 'weight_samples', 'all training labels'))


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names it."""


def default_config() -> Dict[str, Any]:
    """Return a deep copy of :data:`DEFAULTS`."""
    return copy.deepcopy(DEFAULTS)


def _coerce(path: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of ``default`` (None defaults accept anything)."""
    if default is None or value is None:
        return value
    try:
        if isinstance(default, bool):
            words = ('true', 'false', 'yes', 'no', '1', '0')
            if isinstance(value, str) and value.lower() in words:
                return value.lower() in ('true', 'yes', '1')
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise TypeError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if isinstance(default, str):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f'config key {path}: {value!r} is not a {type(default).__name__} '
                          f'(default {default!r})') from None
    return value


def merge(base: Dict[str, Any], update: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Merge ``update`` into ``base`` (in place), checking every key against ``base``.

    Args:
        base: The configuration so far (its keys are the allowed keys).
        update: Values to set; nested mappings merge section by section.
        prefix: Dotted path of ``base`` (for messages).

    Returns:
        ``base``.

    Raises:
        ConfigError: For an unknown key (naming it and the keys of its section) or a value of the
            wrong type.
    """
    for key, value in update.items():
        path = f'{prefix}{key}'
        if key not in base:
            raise ConfigError(f'unknown config key {path!r}; known keys'
                              f'{" in " + prefix[:-1] if prefix else ""}: {sorted(base)}')
        current = base[key]
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f'config key {path} is a section; give a mapping, not {value!r}')
            merge(current, value, path + '.')
        elif key in FREE_FORM and not prefix:
            if not isinstance(value, list):
                raise ConfigError(f'config key {path} must be a list of transforms')
            base[key] = copy.deepcopy(value)
        elif isinstance(current, list) or (tuple(path.split('.')) in LIST_OR_NONE):
            if value is not None and not isinstance(value, (list, str)):
                raise ConfigError(f'config key {path} must be a list, got {value!r}')
            base[key] = copy.deepcopy(value)
        else:
            base[key] = _coerce(path, value, current)
    return base


def parse_override(text: str) -> Dict[str, Any]:
    """Turn ``'a.b.c=VALUE'`` into ``{'a': {'b': {'c': value}}}`` with the value parsed as YAML.

    List entries are addressed by index (``augmentation.2.p=0.5``) and handled by
    :func:`apply_overrides`.

    Raises:
        ConfigError: If ``text`` has no ``=`` or an empty key.
    """
    if '=' not in text:
        raise ConfigError(f'override {text!r} is not KEY=VALUE (e.g. optim.lr=1e-3)')
    key, raw = text.split('=', 1)
    key = key.strip()
    if not key or any(not part for part in key.split('.')):
        raise ConfigError(f'override {text!r} has an empty key')
    value = yaml.safe_load(raw) if raw.strip() else None
    out: Dict[str, Any] = {}
    node = out
    parts = key.split('.')
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def apply_overrides(config: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """Apply ``key=value`` overrides (dotted keys) to ``config`` in place and return it.

    Raises:
        ConfigError: For an unknown key or a value of the wrong type.
    """
    for text in overrides:
        key = text.split('=', 1)[0].strip()
        parts = key.split('.')
        if parts[0] in FREE_FORM and len(parts) > 1:
            _override_list_entry(config, parts, text)
            continue
        merge(config, parse_override(text))
    return config


def _override_list_entry(config: Dict[str, Any], parts: List[str], text: str) -> None:
    """``augmentation.N.key=value``: set one argument of the N-th transform."""
    raw = text.split('=', 1)[1]
    node: Any = config
    for k, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f'override {text!r}: {".".join(parts[:k + 1])} is not an index '
                                  f'of the {len(node)}-entry list')
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ConfigError(f'override {text!r}: no key {".".join(parts[:k + 1])!r}')
    if not isinstance(node, dict):
        raise ConfigError(f'override {text!r}: {".".join(parts[:-1])} is not a mapping')
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def read_config_file(path: str) -> Dict[str, Any]:
    """Read a training config file: a YAML mapping of sections (not yet checked against keys).

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ConfigError: If the file is not valid YAML (naming the line and column) or not a mapping.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        location, problem = yaml_error_location(exc)
        where = f' at {location}' if location else ''
        raise ConfigError(f'config file {path}: invalid YAML{where}: {problem}; fix the file '
                          '(a YAML mapping of sections, e.g. "schedule: {epochs: 10}")') from None
    except UnicodeDecodeError:
        raise ConfigError(f'config file {path}: not UTF-8 text; give a YAML file') from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f'{path}: a training config must be a YAML mapping of sections')
    return dict(data)


def load_config(path: Optional[str], overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Return the defaults, updated by the YAML file ``path`` (if given) and then ``overrides``.

    Relative dataset and output paths in the file stay as written (relative to the current folder).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ConfigError: For an unknown key, a value of the wrong type or out of range, or a file that
            is not valid YAML or not a mapping.
    """
    config = default_config()
    if path is not None:
        data = read_config_file(path)
        try:
            merge(config, data)
        except ConfigError as exc:
            raise ConfigError(f'{path}: {exc}') from None
    apply_overrides(config, overrides)
    validate(config)
    return config


def validate(config: Mapping[str, Any]) -> None:
    """Check values that have a fixed set of choices or ranges.

    Raises:
        ConfigError: Naming the key, its value and the allowed values.
    """
    def choice(path: str, value: Any, allowed: Sequence[Any]) -> None:
        if value not in allowed:
            raise ConfigError(f'config key {path}={value!r} is not one of {list(allowed)}')

    choice('optim.name', config['optim']['name'], ('adam', 'adamw', 'sgd'))
    choice('schedule.lr_policy', config['schedule']['lr_policy'],
           ('constant', 'poly', 'step', 'cosine'))
    choice('input.resize_policy', config['input']['resize_policy'],
           ('stretch', 'letterbox', 'native'))
    choice('input.channel_order', config['input']['channel_order'], ('RGB', 'BGR'))
    weighting = config['loss']['class_weighting']
    if not isinstance(weighting, list):
        choice('loss.class_weighting', weighting, ('enet', 'none'))
    res = config['input']['resolution']
    if res is not None and (not isinstance(res, list) or len(res) != 2 or min(res) < 8):
        raise ConfigError(f'config key input.resolution={res!r} must be [width, height] >= 8 or '
                          'null')
    if config['input']['resize_policy'] != 'native' and res is None:
        raise ConfigError(f'input.resize_policy={config["input"]["resize_policy"]!r} needs '
                          'input.resolution [width, height]')
    for path, value, low in (('schedule.epochs', config['schedule']['epochs'], 1),
                             ('schedule.batch_size', config['schedule']['batch_size'], 1),
                             ('schedule.val_every', config['schedule']['val_every'], 1),
                             ('log.every', config['log']['every'], 1),
                             ('workers', config['workers'], 0)):
        if value < low:
            raise ConfigError(f'config key {path}={value} must be >= {low}')
    if config['threads'] < 0:
        raise ConfigError(f"config key threads={config['threads']} must be >= 0 (0: torch's "
                          'default number of threads)')
    if not 0 <= config['seed'] <= MAX_SEED:
        raise ConfigError(f"config key seed={config['seed']} must be in 0 .. {MAX_SEED} "
                          '(2**32 - 1)')
    for section, key, meaning in OPTIONAL_COUNTS:
        value = config[section][key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f'config key {section}.{key}={value!r} must be a whole number >= 1, '
                              f'or null ({meaning})')
    if not 0.0 <= config['data']['val_fraction'] < 1.0:
        raise ConfigError(f'data.val_fraction={config["data"]["val_fraction"]} must be in [0, 1)')
    if config['optim']['lr'] <= 0:
        raise ConfigError(f'optim.lr={config["optim"]["lr"]} must be > 0')
    for path, value in (('input.scale', config['input']['scale']),
                        ('input.mean', config['input']['mean']),
                        ('input.std', config['input']['std']),
                        ('optim.lr', config['optim']['lr'])):
        try:
            finite = all(math.isfinite(float(v)) for v in
                         (value if isinstance(value, (list, tuple)) else [value]))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ConfigError(f'config key {path}={value!r} must be finite numbers (not .nan or '
                              '.inf)')
    if config['device'] != 'auto':
        from enet_ros.inference.backends import check_device_name
        try:
            if check_device_name(config['device']) != config['device']:
                raise ValueError('not in normal form (lower case, no spaces)')
        except ValueError:
            raise ConfigError(f"config key device={config['device']!r} is not 'auto', 'cpu', "
                              "'cuda' or 'cuda:N'") from None
    if not isinstance(config['augmentation'], list):
        raise ConfigError('augmentation must be a list of transforms')
    for k, entry in enumerate(config['augmentation']):
        if not isinstance(entry, Mapping) or 'name' not in entry:
            raise ConfigError(f'augmentation[{k}] must be a mapping with a name, got {entry!r}')


def dump(config: Mapping[str, Any]) -> str:
    """Return the configuration as YAML text (written next to the checkpoints)."""
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)
