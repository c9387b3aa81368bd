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

"""The ENet training loop (single process, or DistributedDataParallel under ``torchrun``).

Files written to the run folder ``config['output']`` (by rank 0 only):

* ``config.yaml``: the resolved configuration;
* ``last.pt`` after every epoch and ``best.pt`` (highest validation mIoU) in the enet_ros
  checkpoint format (unfused weights, classes, preprocessing with the resolution and resize
  policy, and a provenance with the command line, config, seed, data origin, epochs, wall time,
  hardware and validation metrics);
* ``resume.pt``: optimiser, scheduler, AMP scaler, epoch, RNG states and history, for ``--resume``;
* ``log.csv``: ``epoch, iteration, loss, lr, val_miou, time_s`` rows (every ``log.every``
  iterations, and one per epoch with the validation mIoU);
* ``tb/``: TensorBoard events (skipped with a warning when tensorboard does not import);
* ``plots/loss.png``, ``plots/miou.png``, ``plots/confusion.png``.

A new run refuses a folder that already holds a run (any of ``config.yaml``, ``log.csv``,
``resume.pt``, ``best.pt``, ``last.pt``) unless ``overwrite`` removes that run's files first; a
resumed run writes to its own folder and needs the same class list.

Reproducibility: python / NumPy / torch are seeded from ``seed``; each epoch's shuffling and the
DataLoader workers' augmentation seeds derive from ``(seed, epoch, rank)``, so a resumed run sees
the same data order as an uninterrupted one.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import platform
import random
import shutil
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from enet_ros.data.formats import open_dataset, SegmentationDataset
from enet_ros.model.checkpoint import (CheckpointMeta, ClassInfo, load_state_dict_strict,
                                       Preprocessing, read_checkpoint, save_checkpoint)
from enet_ros.model.enet import ENet, ENetArch
from enet_ros.training import config as config_mod
from enet_ros.training.dataset import (class_pixel_counts, split_indices, TrainingSet,
                                       worker_init_fn)
from enet_ros.training.losses import enet_class_weights, make_criterion
from enet_ros.training.validation import validate
import numpy as np
import torch

LOG = logging.getLogger(__name__)

RESUME_FILE = 'resume.pt'
CSV_FIELDS = ('epoch', 'iteration', 'loss', 'lr', 'val_miou', 'time_s')
# Files whose presence marks a folder as holding a training run.
RUN_MARKERS = ('config.yaml', 'log.csv', RESUME_FILE, 'best.pt', 'last.pt')
# What a run writes (and ``overwrite`` removes): files, the TensorBoard folder and the plots.
RUN_FILES = RUN_MARKERS + (RESUME_FILE + '.tmp', 'best.pt.tmp', 'last.pt.tmp')
RUN_FOLDERS = ('tb',)
RUN_PLOTS = ('loss.png', 'miou.png', 'confusion.png')
# Keys of a resume state (``resume.pt``).
RESUME_KEYS = ('epoch', 'iteration', 'wall_time_s', 'best_miou', 'num_classes', 'model',
               'optimizer', 'scheduler', 'scaler', 'rng', 'history', 'iter_losses',
               'class_weights', 'config')


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        output: The run folder.
        epochs: Epochs completed (including those before a resume).
        iterations: Optimiser steps taken.
        best_miou: Best validation mIoU (fraction), NaN without validation.
        last_checkpoint: Path of ``last.pt``.
        best_checkpoint: Path of ``best.pt`` (None without validation).
        history: Per-epoch rows (epoch, iteration, train_loss, lr, val_miou, ...).
        wall_time_s: Training wall time in seconds, summed over resumed sessions.
    """

    output: str
    epochs: int
    iterations: int
    best_miou: float
    last_checkpoint: str
    best_checkpoint: Optional[str]
    history: List[Dict[str, Any]]
    wall_time_s: float


@dataclasses.dataclass
class _Dist:
    """The process's place in a torchrun job (world size 1 without torchrun)."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def _dist_from_env() -> _Dist:
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return _Dist()
    return _Dist(rank=int(os.environ.get('RANK', '0')),
                 local_rank=int(os.environ.get('LOCAL_RANK', '0')), world=world)


def resolve_device(name: str, dist: _Dist) -> torch.device:
    """Return the torch device for config ``device`` (``auto``: CUDA when available).

    Raises:
        ValueError: If CUDA is requested but not available.
    """
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(name)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {name!r}: CUDA is not available here; use device=cpu')
        if dist.active:
            device = torch.device('cuda', dist.local_rank)
        torch.cuda.set_device(device)
    return device


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def hardware_string(device: torch.device, world: int = 1) -> str:
    """Describe the hardware: CPU model and count, GPU name, process count, torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    text = f'{cpu} ({os.cpu_count()} logical CPUs)'
    if device.type == 'cuda':
        text += f', GPU {torch.cuda.get_device_name(device)}'
    if world > 1:
        text += f', {world} processes (DDP)'
    return text + f', torch {torch.__version__}'


def _rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    state = {'python': random.getstate(), 'torch': torch.get_rng_state(),
             'numpy': [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                       float(np_state[4])]}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(state['torch'])
    n = state['numpy']
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def open_datasets_concat(roots: Union[str, Sequence[str]], fmt: str, split: str,
                         classes: Optional[ClassInfo] = None) -> SegmentationDataset:
    """Open one dataset folder, or several of one format as one dataset (samples concatenated).

    Args:
        roots: A folder or a list of folders (e.g. synth outputs made with different seeds).
        fmt: Their format.
        split: The split to open in each.
        classes: Class list to use instead of the datasets' own.

    Returns:
        The dataset; with several folders its ``info`` holds the common values of the parts'
        ``info`` (e.g. the synth generator and version) and ``parts``, each part's own ``info``.

    Raises:
        ValueError: If the folders' class lists differ (or as :func:`open_dataset`).
    """
    if isinstance(roots, str):
        return open_dataset(roots, fmt, split, classes)
    parts = [open_dataset(str(r), fmt, split, classes) for r in roots]
    if not parts:
        raise ValueError('an empty list of dataset folders was given')
    first = parts[0]
    for part in parts[1:]:
        if part.classes.names != first.classes.names:
            raise ValueError(f'{part.name} has classes {list(part.classes.names)}, {first.name} '
                             f'{list(first.classes.names)}: folders trained together need one '
                             'class list')
    info = {k: v for k, v in first.info.items()
            if all(p.info.get(k) == v for p in parts) and k not in ('root', 'seed', 'count')}
    info['parts'] = [dict(p.info, name=p.name, count=len(p)) for p in parts]
    return SegmentationDataset([s for p in parts for s in p.samples], first.classes,
                               ' + '.join(p.name for p in parts), label_map=first.label_map,
                               check_labels=first.check_labels, info=info)


def open_datasets(cfg: Mapping[str, Any]) -> Tuple[SegmentationDataset,
                                                   Optional[SegmentationDataset]]:
    """Open the training and validation datasets the config describes.

    Raises:
        ValueError: If ``data.root`` is unset, a dataset is empty, or the validation data would be
            the training data itself.
        FileNotFoundError: For missing folders.
    """
    from enet_ros.classes import load_classes
    d = cfg['data']
    if not d['root']:
        raise ValueError('config key data.root is not set: give the dataset folder '
                         '(data.root=DIR)')
    classes = load_classes(d['classes']) if d['classes'] else None
    train = open_datasets_concat(d['root'], d['format'], d['split'], classes)
    val: Optional[SegmentationDataset] = None
    if d['val_fraction'] > 0:
        tr_idx, val_idx = split_indices(len(train), d['val_fraction'], cfg['seed'])
        val = train.subset(val_idx, f'{train.name} (held-out {d["val_fraction"]:g})')
        train = train.subset(tr_idx, f'{train.name} (minus held-out)')
    else:
        root = d['val_root'] or d['root']
        try:
            val = open_datasets_concat(root, d['val_format'] or d['format'], d['val_split'],
                                       classes or train.classes)
        except FileNotFoundError as exc:
            if d['val_root']:
                raise
            LOG.warning('no validation data (%s): best.pt will not be written; set data.val_root '
                        'or data.val_fraction', exc)
        if val is not None:
            same = {s.image_path for s in val.samples} & {s.image_path for s in train.samples}
            if same:
                raise ValueError(f'the validation data ({val.name}) shares {len(same)} images '
                                 f'with the training data ({train.name}); set data.val_root '
                                 'to another folder or data.val_fraction > 0')
    if d['limit_train']:
        train = train.subset(range(min(int(d['limit_train']), len(train))))
    if val is not None and d['limit_val']:
        val = val.subset(range(min(int(d['limit_val']), len(val))))
    if val is not None and len(val) == 0:
        raise ValueError(f'the validation set ({val.name}) is empty: check data.val_root, '
                         'data.val_split and data.limit_val')
    if val is not None and val.classes.names != train.classes.names:
        raise ValueError(f'validation classes {list(val.classes.names)} differ from the training '
                         f'classes {list(train.classes.names)}')
    return train, val


def preprocessing_from_config(cfg: Mapping[str, Any]) -> Preprocessing:
    """Return the checkpoint :class:`Preprocessing` the config's ``input`` section describes."""
    i = cfg['input']
    res = i['resolution']
    return Preprocessing(channel_order=i['channel_order'], scale=float(i['scale']),
                         mean=tuple(float(v) for v in i['mean']),
                         std=tuple(float(v) for v in i['std']),
                         resolution=None if res is None else (int(res[0]), int(res[1])),
                         resize_policy=i['resize_policy'])


def _lr_factor(cfg: Mapping[str, Any], iteration: int, total: int, iters_per_epoch: int) -> float:
    s = cfg['schedule']
    factor = 1.0
    if s['lr_policy'] == 'poly':
        factor = max(0.0, 1.0 - iteration / max(1, total)) ** s['poly_power']
    elif s['lr_policy'] == 'step':
        factor = s['step_gamma'] ** (iteration // max(1, s['step_epochs'] * iters_per_epoch))
    elif s['lr_policy'] == 'cosine':
        factor = 0.5 * (1.0 + math.cos(math.pi * min(1.0, iteration / max(1, total))))
    if s['warmup_iters'] > 0 and iteration < s['warmup_iters']:
        factor *= (iteration + 1) / s['warmup_iters']
    return factor


def _make_optimizer(cfg: Mapping[str, Any], params) -> torch.optim.Optimizer:
    o = cfg['optim']
    if o['name'] == 'sgd':
        return torch.optim.SGD(params, lr=o['lr'], momentum=o['momentum'],
                               weight_decay=o['weight_decay'])
    cls = torch.optim.AdamW if o['name'] == 'adamw' else torch.optim.Adam
    return cls(params, lr=o['lr'], betas=tuple(o['betas']), weight_decay=o['weight_decay'])


def _init_from(model: ENet, path: str) -> None:
    """Load the matching tensors of checkpoint ``path``; log every tensor left out, by name."""
    state, meta = read_checkpoint(path)
    own = model.state_dict()
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    dropped = sorted(set(state) - set(keep))
    missing = sorted(set(own) - set(keep))
    if dropped or missing:
        LOG.warning('init from %s: not loaded (shape or name differs): %s; freshly '
                    'initialised: %s', path, dropped, missing)
        own.update(keep)
        load_state_dict_strict(model, own)
    else:
        load_state_dict_strict(model, state)
    LOG.info('initialised from %s (%s)', path, meta.provenance.get('source', '?'))


def _class_weights(cfg: Mapping[str, Any], train: SegmentationDataset, dist: _Dist,
                   progress: bool) -> Tuple[Optional[np.ndarray], Optional[List[int]]]:
    """Class weights per the config (and the pixel counts they came from)."""
    spec = cfg['loss']['class_weighting']
    n = train.classes.num_classes
    if isinstance(spec, list):
        if len(spec) != n:
            raise ValueError(f'loss.class_weighting has {len(spec)} weights for {n} classes')
        return np.asarray(spec, dtype=np.float64), None
    if spec == 'none':
        return None, None
    counts = torch.zeros(n, dtype=torch.int64)
    if dist.main:
        limit = cfg['loss']['weight_samples']
        indices = None
        if limit and limit < len(train):
            rng = np.random.default_rng(cfg['seed'])
            indices = sorted(rng.choice(len(train), int(limit), replace=False).tolist())
        counts = torch.from_numpy(class_pixel_counts(train, indices, progress))
    if dist.active:
        counts = counts.to(_collective_device())
        torch.distributed.broadcast(counts, 0)
        counts = counts.cpu()
    counts_np = counts.numpy()
    return enet_class_weights(counts_np, cfg['loss']['enet_c']), counts_np.tolist()


def _collective_device() -> torch.device:
    backend = torch.distributed.get_backend()
    return torch.device('cuda', torch.cuda.current_device()) if backend == 'nccl' \
        else torch.device('cpu')


class _Writers:
    """CSV and TensorBoard logging (rank 0 only; no-ops elsewhere)."""

    def __init__(self, output: str, enabled: bool, tensorboard: bool) -> None:
        self.enabled = enabled
        self.csv_path = os.path.join(output, 'log.csv')
        self.tb = None
        if not enabled:
            return
        if not os.path.isfile(self.csv_path):
            with open(self.csv_path, 'w', newline='', encoding='utf-8') as f:
                csv.writer(f).writerow(CSV_FIELDS)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(log_dir=os.path.join(output, 'tb'))
            except Exception as exc:  # ImportError, or tensorboard's own import-time errors
                LOG.warning('TensorBoard logging skipped: %s', exc)

    def row(self, epoch: int, iteration: int, loss: float, lr: float,
            val_miou: Optional[float], elapsed: float) -> None:
        if not self.enabled:
            return
        with open(self.csv_path, 'a', newline='', encoding='utf-8') as f:
            csv.writer(f).writerow([epoch, iteration, f'{loss:.6f}', f'{lr:.6g}',
                                    '' if val_miou is None else f'{val_miou:.6f}',
                                    f'{elapsed:.1f}'])

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.tb is not None:
            self.tb.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _resume_path(resume: str) -> str:
    path = os.path.join(resume, RESUME_FILE) if os.path.isdir(resume) else resume
    if not os.path.isfile(path):
        raise FileNotFoundError(f'--resume {resume!r}: no {RESUME_FILE} there (give a run folder '
                                f'or its {RESUME_FILE})')
    return path


def resume_folder(resume: str) -> str:
    """Return the run folder of ``--resume`` (the folder itself, or the folder of the file)."""
    if os.path.isdir(resume):
        return resume
    return os.path.dirname(resume) or '.'


def read_resume_state(resume: str) -> Dict[str, Any]:
    """Load a run's ``resume.pt`` (a run folder or the file itself).

    Raises:
        FileNotFoundError: If there is no resume state.
        ValueError: If the file is not a resume state written by ``enet-ros train`` (unreadable,
            empty, truncated, or a model checkpoint such as ``best.pt``); the message names it.
    """
    path = _resume_path(resume)
    expects = (f'--resume expects a run folder written by enet-ros train, or the {RESUME_FILE} '
               'in it')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError (zip), ...
        if isinstance(exc, EOFError):
            detail = 'the file is empty or cut short'
        elif isinstance(exc, RuntimeError):
            detail = (str(exc).strip().split('. ')[0].splitlines() or [''])[0][:160]
        else:
            detail = 'not a PyTorch file of tensors and plain containers'
        raise ValueError(f'--resume {path}: not a readable resume state ({type(exc).__name__}: '
                         f'{detail}); {expects}') from None
    if isinstance(state, dict) and 'state_dict' in state:
        raise ValueError(f'--resume {path}: this is a model checkpoint (like best.pt / last.pt), '
                         f'not a resume state; {expects} (to start a new run from these '
                         f'weights, use model.init={path} instead)')
    missing = [k for k in RESUME_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f'--resume {path}: not a resume state (missing {", ".join(missing)}); '
                         f'{expects}')
    return state


def _same_folder(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def existing_run_files(output: str) -> List[str]:
    """Return the names of the files in ``output`` that mark it as holding a training run."""
    return [name for name in RUN_MARKERS if os.path.exists(os.path.join(output, name))]


def check_output(output: str, resume: Optional[str] = None, overwrite: bool = False) -> None:
    """Check that the run folder ``output`` may be written, before any training work.

    A new run needs a folder that does not hold another run (unless ``overwrite``); a resumed
    run writes to the resumed run's own folder.

    Args:
        output: The run folder (config ``output``).
        resume: The ``--resume`` folder or file, if resuming.
        overwrite: Whether an existing run in ``output`` will be removed first.

    Raises:
        ValueError: If ``output`` is a file, holds another run (without ``overwrite``), or is not
            the resumed run's folder, or if ``overwrite`` is combined with ``resume``.
    """
    if resume:
        folder = resume_folder(resume)
        if overwrite:
            raise ValueError(f'--overwrite deletes the run that --resume {resume} continues: '
                             'give one of them, not both')
        if not _same_folder(output, folder):
            raise ValueError(f'--resume {resume} continues the run in {folder}, but output='
                             f'{output} is another folder: a resumed run writes to its own folder '
                             f'(leave output= unset or set output={folder}); to start a new run '
                             f'from its weights, use model.init={os.path.join(folder, "last.pt")} '
                             'and a new output= instead of --resume')
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise ValueError(f'output={output} is a file, not a folder: give a folder path for the '
                         'run (created if missing)')
    found = existing_run_files(output) if os.path.isdir(output) else []
    if found and not overwrite:
        raise ValueError(f'output={output} already holds a training run ({", ".join(found)}): '
                         f'give a new output=DIR, continue it with --resume {output}, or add '
                         "--overwrite to delete that run's files first")


def remove_run(output: str) -> List[str]:
    """Delete the files a training run wrote in ``output`` (and nothing else); return them.

    Removes the checkpoints, ``resume.pt``, ``log.csv``, ``config.yaml``, the ``tb/`` TensorBoard
    folder and the plots (``plots/`` too when that leaves it empty).
    """
    removed = []
    for name in RUN_FILES:
        path = os.path.join(output, name)
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)
            removed.append(name)
    for name in RUN_FOLDERS:
        path = os.path.join(output, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(name + '/')
    plots = os.path.join(output, 'plots')
    for name in RUN_PLOTS:
        path = os.path.join(plots, name)
        if os.path.isfile(path):
            os.remove(path)
            removed.append(f'plots/{name}')
    if os.path.isdir(plots) and not os.listdir(plots):
        os.rmdir(plots)
    return removed


def _saved_class_names(state: Mapping[str, Any], resume: str) -> Optional[List[str]]:
    """Return the class names a resumed run trained on (from resume.pt, else its last.pt)."""
    if state.get('class_names') is not None:
        return [str(n) for n in state['class_names']]
    last = os.path.join(resume_folder(resume), 'last.pt')
    if os.path.isfile(last):
        try:
            return list(read_checkpoint(last)[1].classes.names)
        except Exception as exc:  # an unreadable last.pt: fall back to the class count check
            LOG.warning('cannot read the class names of %s: %s', last, exc)
    return None


def train(cfg: Dict[str, Any], command: str = '', resume: Optional[str] = None,
          overwrite: bool = False) -> TrainResult:
    """Train ENet as the configuration says (see :mod:`enet_ros.training.config`).

    Args:
        cfg: The resolved configuration (:func:`~enet_ros.training.config.load_config`).
        command: The command line, stored in the checkpoints' provenance.
        resume: A run folder or ``resume.pt`` to continue from (its completed epochs are skipped).
            ``cfg['output']`` must be that run's folder.
        overwrite: Remove an earlier run's files in ``cfg['output']`` (see :func:`remove_run`)
            before writing; without it a folder holding a run is refused.

    Returns:
        The :class:`TrainResult`.

    Raises:
        ValueError: For bad config values, data problems (mismatched pairs, label values outside
            the class list, empty datasets), an output folder that holds another run or is not
            the resumed run's, or a resume state that is unreadable or does not fit (other
            classes).
        FileNotFoundError: For missing data or resume files.
    """
    config_mod.validate(cfg)
    check_output(cfg['output'], resume, overwrite)
    state = read_resume_state(resume) if resume else None
    dist = _dist_from_env()
    device = resolve_device(cfg['device'], dist)
    if dist.active and not torch.distributed.is_initialized():
        torch.distributed.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
    try:
        return _train(cfg, command, resume, state, overwrite, dist, device)
    finally:
        if dist.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(cfg: Dict[str, Any], command: str, resume: Optional[str],
           state: Optional[Dict[str, Any]], overwrite: bool, dist: _Dist,
           device: torch.device) -> TrainResult:
    from tqdm import tqdm
    seed = int(cfg['seed'])
    if cfg['threads'] > 0:
        torch.set_num_threads(int(cfg['threads']))
    if cfg['deterministic']:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    seed_everything(seed)
    output = cfg['output']
    progress = bool(cfg['log']['progress']) and dist.main
    train_data, val_data = open_datasets(cfg)
    classes: ClassInfo = train_data.classes
    num_classes = cfg['model']['num_classes'] or classes.num_classes
    if num_classes != classes.num_classes:
        raise ValueError(f'model.num_classes={num_classes} but the class list has '
                         f'{classes.num_classes} names ({", ".join(classes.names)})')
    if state is not None:
        saved_names = _saved_class_names(state, resume)
        if saved_names is not None and saved_names != list(classes.names):
            raise ValueError(f'cannot resume {resume}: that run trained on the classes '
                             f'{saved_names}, but the dataset has {list(classes.names)}: resume '
                             'with the same class list (data.root / data.classes), or start a '
                             'new run with a new output= (model.init=... to start from its '
                             'weights)')
        if state['num_classes'] != num_classes:
            raise ValueError(f'cannot resume {resume}: that run has {state["num_classes"]} '
                             f'classes, the config {num_classes}')
    batch = int(cfg['schedule']['batch_size'])
    per_rank = len(train_data) // dist.world
    if per_rank < batch:
        raise ValueError(f'the training set has {len(train_data)} samples ({per_rank} per '
                         f'process), fewer than one batch of {batch}: lower schedule.batch_size')
    prep = preprocessing_from_config(cfg)
    arch = ENetArch(num_classes=num_classes, variant=cfg['model']['variant'])
    model = ENet(arch)
    if cfg['model']['init']:
        _init_from(model, cfg['model']['init'])
    model.to(device)

    train_set = TrainingSet(train_data, prep, cfg['augmentation'], seed=seed)
    if dist.active:
        torch.distributed.barrier()  # every process checked the folder before rank 0 writes
    if dist.main:
        if overwrite and os.path.isdir(output):
            removed = remove_run(output)
            if removed:
                LOG.info('--overwrite: removed %s from %s', ', '.join(removed), output)
        try:
            os.makedirs(os.path.join(output, 'plots'), exist_ok=True)
        except OSError as exc:
            raise ValueError(f'output={output}: cannot create the run folder ({exc.strerror}: '
                             f'{exc.filename}); give a folder path that can be created') from None
        with open(os.path.join(output, 'config.yaml'), 'w', encoding='utf-8') as f:
            f.write(config_mod.dump(cfg))
    weights, counts = _class_weights(cfg, train_data, dist, progress) if state is None else (
        None if state['class_weights'] is None else np.asarray(state['class_weights']),
        state.get('class_pixel_counts'))
    if weights is not None and dist.main:
        LOG.info('class weights %s', dict(zip(classes.names, np.round(weights, 3).tolist())))
    criterion = make_criterion(weights, device)
    iters_per_epoch = per_rank // batch
    if cfg['schedule']['iters_per_epoch']:
        iters_per_epoch = min(iters_per_epoch, int(cfg['schedule']['iters_per_epoch']))
    epochs = int(cfg['schedule']['epochs'])
    total_iters = epochs * iters_per_epoch
    optimizer = _make_optimizer(cfg, model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: _lr_factor(cfg, it, total_iters, iters_per_epoch))
    use_amp = bool(cfg['amp']) and device.type == 'cuda'
    scaler = torch.amp.GradScaler('cuda', enabled=use_amp)

    start_epoch, iteration, wall_before, best = 0, 0, 0.0, -math.inf
    history: List[Dict[str, Any]] = []
    iter_losses: List[List[float]] = []
    if state is not None:
        load_state_dict_strict(model, state['model'])
        optimizer.load_state_dict(state['optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        scaler.load_state_dict(state['scaler'])
        _set_rng_state(state['rng'])
        start_epoch, iteration = int(state['epoch']), int(state['iteration'])
        wall_before, best = float(state['wall_time_s']), float(state['best_miou'])
        history, iter_losses = list(state['history']), [list(x) for x in state['iter_losses']]
        LOG.info('resuming %s after epoch %d (iteration %d)', resume, start_epoch, iteration)
        if start_epoch >= epochs:
            LOG.warning('the run already completed %d of %d epochs; raise schedule.epochs to '
                        'train longer', start_epoch, epochs)

    net: torch.nn.Module = model
    if dist.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == 'cuda' else None)
    writers = _Writers(output, dist.main, bool(cfg['log']['tensorboard']))
    hardware = hardware_string(device, dist.world)
    meta = CheckpointMeta(arch=arch, classes=classes, preprocessing=prep)
    last_path, best_path = os.path.join(output, 'last.pt'), os.path.join(output, 'best.pt')
    t_start = time.perf_counter()
    log_every = int(cfg['log']['every'])
    last_cm = None

    for epoch in range(start_epoch, epochs):
        loader = _loader(train_set, cfg, dist, seed, epoch)
        net.train()
        running, window, epoch_loss, epoch_steps = 0.0, 0, 0.0, 0
        bar = tqdm(total=iters_per_epoch, desc=f'epoch {epoch + 1}/{epochs}', disable=not progress,
                   unit='it', leave=False)
        for images, targets in loader:
            if epoch_steps >= iters_per_epoch:
                break
            images = images.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                logits = net(images)
            loss = criterion(logits.float(), targets)
            value = float(loss.detach())   # the one host sync of the step
            if not math.isfinite(value):
                raise RuntimeError(f'the loss became {value} at iteration {iteration}: '
                                   'lower optim.lr or check the labels')
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg['optim']['grad_clip'] > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['optim']['grad_clip'])
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            iteration += 1
            epoch_steps += 1
            running += value
            window += 1
            epoch_loss += value
            lr = optimizer.param_groups[0]['lr']
            bar.update(1)
            bar.set_postfix(loss=f'{value:.4f}', lr=f'{lr:.2e}')
            if window == log_every:
                mean = running / window
                iter_losses.append([iteration, mean])
                writers.row(epoch + 1, iteration, mean, lr, None,
                            wall_before + time.perf_counter() - t_start)
                writers.scalar('train/loss', mean, iteration)
                writers.scalar('train/lr', lr, iteration)
                running, window = 0.0, 0
        bar.close()
        if epoch_steps == 0:
            raise ValueError('an epoch ran no iteration: the training set is smaller than a batch')
        train_loss = epoch_loss / epoch_steps
        if dist.active:
            t = torch.tensor([train_loss], dtype=torch.float64, device=_collective_device())
            torch.distributed.all_reduce(t)
            train_loss = float(t.item()) / dist.world
        row: Dict[str, Any] = {'epoch': epoch + 1, 'iteration': iteration,
                               'train_loss': train_loss, 'lr': optimizer.param_groups[0]['lr'],
                               'val_miou': None, 'val_pixel_accuracy': None,
                               'val_per_class_iou': None}
        do_val = val_data is not None and ((epoch + 1) % cfg['schedule']['val_every'] == 0
                                           or epoch + 1 == epochs)
        if do_val:
            cm = validate(model, val_data, prep, device,
                          indices=range(dist.rank, len(val_data), dist.world), progress=progress)
            if dist.active:
                m = torch.from_numpy(cm.matrix).to(_collective_device())
                torch.distributed.all_reduce(m)
                cm.matrix = m.cpu().numpy()
            last_cm = cm
            ious = cm.iou()
            row['val_miou'] = cm.miou()
            row['val_pixel_accuracy'] = cm.pixel_accuracy()
            row['val_per_class_iou'] = {classes.names[c]: (None if np.isnan(ious[c])
                                                           else float(ious[c]))
                                        for c in cm.evaluated_classes()}
        elapsed = wall_before + time.perf_counter() - t_start
        row['time_s'] = elapsed
        history.append(row)
        improved = row['val_miou'] is not None and row['val_miou'] > best
        if improved:
            best = row['val_miou']
        if dist.main:
            writers.row(epoch + 1, iteration, train_loss, row['lr'], row['val_miou'], elapsed)
            writers.scalar('epoch/train_loss', train_loss, epoch + 1)
            if row['val_miou'] is not None:
                writers.scalar('val/miou', row['val_miou'], epoch + 1)
                for name, v in row['val_per_class_iou'].items():
                    if v is not None:
                        writers.scalar(f'val/iou_{name}', v, epoch + 1)
            meta.provenance = _provenance(cfg, command, train_data, val_data, row, epoch + 1,
                                          epochs, iteration, elapsed, hardware, weights, counts)
            save_checkpoint(last_path, model, meta)
            if improved:
                save_checkpoint(best_path, model, meta)
            _save_resume(output, model, optimizer, scheduler, scaler, epoch + 1, iteration,
                         elapsed, best, history, iter_losses, weights, counts, classes, cfg)
            if cfg['log']['plots']:
                _plots(output, iter_losses, history, classes, last_cm)
            LOG.info('epoch %d/%d: loss %.4f%s (%.0f s)', epoch + 1, epochs, train_loss,
                     '' if row['val_miou'] is None else f', val mIoU {row["val_miou"]:.4f}',
                     elapsed)
        if dist.active:
            torch.distributed.barrier()
    writers.close()
    done = history[-1]['epoch'] if history else start_epoch
    return TrainResult(output=output, epochs=done, iterations=iteration,
                       best_miou=best if best > -math.inf else math.nan,
                       last_checkpoint=last_path,
                       best_checkpoint=best_path if os.path.isfile(best_path) else None,
                       history=history,
                       wall_time_s=wall_before + time.perf_counter() - t_start)


def _loader(train_set: TrainingSet, cfg: Mapping[str, Any], dist: _Dist, seed: int,
            epoch: int) -> torch.utils.data.DataLoader:
    """Return the epoch's DataLoader (shuffling and worker seeds follow (seed, epoch, rank))."""
    generator = torch.Generator()
    generator.manual_seed(seed * 1_000_003 + epoch * 7_919 + dist.rank)
    workers = int(cfg['workers'])
    if workers == 0:
        train_set.reseed(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator)))
    if dist.active:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_set, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=seed,
            drop_last=True)
        sampler.set_epoch(epoch)
    else:
        sampler = torch.utils.data.RandomSampler(train_set, generator=generator)
    return torch.utils.data.DataLoader(
        train_set, batch_size=int(cfg['schedule']['batch_size']), sampler=sampler,
        num_workers=workers, drop_last=True, worker_init_fn=worker_init_fn, generator=generator,
        pin_memory=torch.cuda.is_available(), persistent_workers=False)


def _provenance(cfg: Mapping[str, Any], command: str, train_data: SegmentationDataset,
                val_data: Optional[SegmentationDataset], row: Mapping[str, Any], epoch: int,
                epochs: int, iteration: int, elapsed: float, hardware: str,
                weights: Optional[np.ndarray], counts: Optional[List[int]]) -> Dict[str, Any]:
    """Return the provenance stored in ``last.pt`` / ``best.pt``."""
    data = {'train': {'name': train_data.name, 'count': len(train_data), **train_data.info}}
    if val_data is not None:
        data['val'] = {'name': val_data.name, 'count': len(val_data), **val_data.info}
    prov = {'source': 'enet-ros train', 'method': 'trained from scratch' if not
            cfg['model']['init'] else f'fine-tuned from {cfg["model"]["init"]}',
            'command': command, 'config': dict(cfg), 'seed': int(cfg['seed']), 'data': data,
            'epoch': epoch, 'epochs_planned': epochs, 'iterations': iteration,
            'wall_time_s': round(elapsed, 1), 'hardware': hardware,
            'torch_version': str(torch.__version__),
            'class_weights': None if weights is None else [float(w) for w in weights],
            'class_pixel_counts': counts,
            'metrics': {'val_miou': row.get('val_miou'),
                        'val_pixel_accuracy': row.get('val_pixel_accuracy'),
                        'val_per_class_iou': row.get('val_per_class_iou'),
                        'train_loss': row.get('train_loss')}}
    if train_data.info.get('generator'):
        info = train_data.info
        prov['synth_generator'] = f'{info["generator"]} {info.get("version")}'
    return prov


def _save_resume(output: str, model: ENet, optimizer, scheduler, scaler, epoch: int,
                 iteration: int, elapsed: float, best: float, history, iter_losses,
                 weights: Optional[np.ndarray], counts: Optional[List[int]], classes: ClassInfo,
                 cfg: Mapping[str, Any]) -> None:
    """Write ``resume.pt`` atomically (plain containers and tensors: loads with weights_only)."""
    from enet_ros.model.checkpoint import _plain
    state = {'epoch': epoch, 'iteration': iteration, 'wall_time_s': elapsed, 'best_miou': best,
             'num_classes': classes.num_classes, 'class_names': list(classes.names),
             'model': model.state_dict(),
             'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict(),
             'scaler': scaler.state_dict(), 'rng': _rng_state(), 'history': _plain(history),
             'iter_losses': iter_losses,
             'class_weights': None if weights is None else [float(w) for w in weights],
             'class_pixel_counts': counts, 'config': _plain(dict(cfg))}
    path = os.path.join(output, RESUME_FILE)
    torch.save(state, path + '.tmp')
    os.replace(path + '.tmp', path)


def _plots(output: str, iter_losses, history, classes: ClassInfo, cm) -> None:
    from enet_ros.evaluation import plot_confusion_matrix
    from enet_ros.training.plots import plot_loss, plot_miou
    folder = os.path.join(output, 'plots')
    try:
        plot_loss(iter_losses, history, os.path.join(folder, 'loss.png'))
        plot_miou(history, classes.names, os.path.join(folder, 'miou.png'))
        if cm is not None:
            plot_confusion_matrix(cm.matrix, classes.names, os.path.join(folder, 'confusion.png'),
                                  title='Validation confusion matrix (rows: ground truth)')
    except Exception as exc:  # plotting must never stop a training run
        LOG.warning('plots not written: %s', exc)
