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

"""Training samples: a torch ``Dataset`` over a :class:`~enet_ros.data.SegmentationDataset`.

Each sample goes through the same geometry and normalisation as inference
(:mod:`enet_ros.inference.preprocess`): with a ``stretch`` / ``letterbox`` resize policy the
image is first brought to the network resolution as
:func:`~enet_ros.inference.preprocess.plan_resize` says, then augmented with albumentations (uint8
image, uint16 mask, nearest-neighbour mask interpolation), then normalised by the checkpoint's
:class:`~enet_ros.inference.preprocess.Normalizer`.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from enet_ros.data.formats import SegmentationDataset
from enet_ros.inference.preprocess import Normalizer, plan_resize
from enet_ros.model.checkpoint import Preprocessing
import numpy as np
import torch

LOG = logging.getLogger(__name__)

PAD_LABEL = 65535       # uint16 mask value of ignored / padded pixels during augmentation
IGNORE_TARGET = -100    # value of ignored pixels in the long target (torch's default ignore)
CONTAINERS = ('OneOf', 'SomeOf', 'Sequential', 'SelectiveChannelTransform')


def build_augmentation(spec: Sequence[Mapping[str, Any]], seed: Optional[int] = None):
    """Build an ``albumentations.Compose`` from a list of ``{'name': ..., **kwargs}`` entries.

    Names are albumentations transforms, or enet_ros's own (:mod:`enet_ros.training.augment`).

    Geometric transforms that pad (``fill_mask`` argument) pad masks with :data:`PAD_LABEL` (the
    ignore label) unless the entry sets ``fill_mask``. ``OneOf`` / ``SomeOf`` / ``Sequential``
    take a ``transforms`` list of entries.

    Args:
        spec: The transform entries (the config's ``augmentation`` list).
        seed: Seed of the pipeline's random stream (albumentations 2 keeps its own generator).

    Returns:
        The ``Compose``; call it as ``compose(image=uint8 HxWx3, mask=uint16 HxW)``.

    Raises:
        ValueError: For an unknown transform or argument (naming it and the allowed arguments).
    """
    import albumentations as A
    return A.Compose([_build_transform(A, entry, f'augmentation[{k}]')
                      for k, entry in enumerate(spec)], seed=seed)


def _build_transform(A: Any, entry: Mapping[str, Any], where: str) -> Any:
    """One albumentations transform from a config entry."""
    if not isinstance(entry, Mapping) or 'name' not in entry:
        raise ValueError(f'{where}: expected a mapping with a name, got {entry!r}')
    name = str(entry['name'])
    cls = getattr(A, name, None)
    if not inspect.isclass(cls):
        from enet_ros.training import augment
        cls = getattr(augment, name, None)
    if not inspect.isclass(cls):
        raise ValueError(f'{where}: albumentations has no transform {name!r} (nor has '
                         'enet_ros.training.augment)')
    kwargs = {k: v for k, v in entry.items() if k != 'name'}
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown and not accepts_any:
        allowed = sorted(k for k in params if k != 'self')
        raise ValueError(f'{where} ({name}): unknown arguments {unknown}; {name} takes {allowed}')
    if name in CONTAINERS:
        inner = kwargs.pop('transforms', None)
        if not isinstance(inner, list) or not inner:
            raise ValueError(f'{where} ({name}): needs a non-empty transforms list')
        kwargs['transforms'] = [_build_transform(A, e, f'{where}.transforms[{i}]')
                                for i, e in enumerate(inner)]
    if 'fill_mask' in params and 'fill_mask' not in kwargs:
        kwargs['fill_mask'] = PAD_LABEL
    for key, value in list(kwargs.items()):
        if isinstance(value, list) and key != 'transforms' and all(
                isinstance(v, (int, float)) for v in value):
            kwargs[key] = tuple(value)
    try:
        return cls(**kwargs)
    except Exception as exc:  # albumentations validates with pydantic (several exception types)
        raise ValueError(f'{where} ({name}): {exc}') from None


def to_train_label(label: np.ndarray, ignore_index: Optional[int]) -> np.ndarray:
    """Return ``label`` as uint16 with the ignore index mapped to :data:`PAD_LABEL`.

    Args:
        label: (H, W) integer class ids (checked by the dataset: ``0..C-1`` or the ignore index).
        ignore_index: The class list's ignore index, or None.
    """
    out = label.astype(np.uint16)
    if ignore_index is not None:
        out[label == ignore_index] = PAD_LABEL
    return out


def letterbox_fill(prep: Preprocessing) -> Tuple[int, int, int]:
    """Return the RGB uint8 colour that normalises to 0, the inference path's letterbox padding."""
    values = [min(255, max(0, int(round(m / prep.scale)))) for m in prep.mean]
    if prep.channel_order == 'BGR':
        values = values[::-1]
    return tuple(values)


def to_network_geometry(image: np.ndarray, label: np.ndarray, resolution: Optional[Sequence[int]],
                        policy: str, fill: Sequence[int] = (0, 0, 0)
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Bring an image and its label to the network input geometry, as inference does.

    ``stretch``: bilinear resize (half-pixel centres, like the inference path's
    ``F.interpolate(align_corners=False)``) of the image and nearest resize of the label;
    ``letterbox``: the same into the content rectangle of :func:`plan_resize`, the image padded
    with ``fill`` and the label with :data:`PAD_LABEL`; ``native`` (or no resolution): unchanged.

    Args:
        image: (H, W, 3) uint8.
        label: (H, W) uint16.
        resolution: Network (width, height) in pixels, or None.
        policy: ``stretch``, ``letterbox`` or ``native``.
        fill: RGB padding colour of ``letterbox`` (:func:`letterbox_fill`: zero after normalising).

    Returns:
        ``(image, label)`` at the network resolution.
    """
    import cv2
    plan = plan_resize(image.shape[:2], None if resolution is None else tuple(resolution), policy)
    if plan.policy == 'native':
        return image, label
    top, left, ch, cw = plan.content
    if (ch, cw) != image.shape[:2]:
        image = cv2.resize(image, (cw, ch), interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(label, (cw, ch), interpolation=cv2.INTER_NEAREST)
    if plan.policy == 'letterbox':
        net_h, net_w = plan.net_hw
        pad = (top, net_h - ch - top, left, net_w - cw - left)
        image = cv2.copyMakeBorder(image, *pad, cv2.BORDER_CONSTANT,
                                   value=tuple(int(v) for v in fill))
        label = cv2.copyMakeBorder(label, *pad, cv2.BORDER_CONSTANT, value=PAD_LABEL)
    return image, label


class TrainingSet(torch.utils.data.Dataset):
    """Augmented, normalised training (or validation-loss) samples.

    Args:
        base: The dataset (``load(i) -> (image, label)``; labels are checked on load).
        preprocessing: The checkpoint's preprocessing (normalisation, resolution, resize policy).
        augmentation: The config's ``augmentation`` entries (empty: no augmentation).
        seed: Seed of the augmentation stream (reseeded per DataLoader worker and epoch).

    Shape:
        ``dataset[i]`` is ``(image, target)``: image ``(3, h, w)`` float32 normalised as the
        checkpoint says, target ``(h, w)`` int64 class ids with ignored pixels = -100.
    """

    def __init__(self, base: SegmentationDataset, preprocessing: Preprocessing,
                 augmentation: Sequence[Mapping[str, Any]] = (), seed: int = 0) -> None:
        """Build the augmentation pipeline and the normaliser."""
        self.base = base
        self.preprocessing = preprocessing
        self.ignore_index = base.classes.ignore_index
        self.transform = build_augmentation(augmentation, seed) if augmentation else None
        self.normalizer = Normalizer(preprocessing, 'RGB')

    def __len__(self) -> int:
        """Return the number of samples."""
        return len(self.base)

    def reseed(self, seed: int) -> None:
        """Reseed the augmentation stream (per worker and epoch, for reproducible runs)."""
        if self.transform is not None:
            self.transform.set_random_seed(int(seed) % (2 ** 32))

    def sample_arrays(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return the augmented ``(image (h, w, 3) uint8, label (h, w) uint16)`` of ``index``."""
        image, label = self.base.load(index)
        label = to_train_label(label, self.ignore_index)
        p = self.preprocessing
        image, label = to_network_geometry(image, label, p.resolution, p.resize_policy,
                                           letterbox_fill(p))
        if self.transform is not None:
            out = self.transform(image=image, mask=label)
            image, label = out['image'], out['mask']
        return image, label

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(image (3, h, w) float32, target (h, w) int64)`` (see the class docstring)."""
        image, label = self.sample_arrays(index)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            x = self.normalizer(x)[0]
        target = torch.from_numpy(label.astype(np.int64))
        target[target == PAD_LABEL] = IGNORE_TARGET
        return x.contiguous(), target


def worker_init_fn(worker_id: int) -> None:
    """Seed python, NumPy and the augmentation stream of a DataLoader worker.

    ``torch.initial_seed()`` in a worker is the loader's per-epoch base seed + ``worker_id``, drawn
    from the loader's generator, so the streams are reproducible and differ between workers and
    epochs.
    """
    import random
    seed = torch.initial_seed() % (2 ** 32)
    random.seed(seed)
    np.random.seed(seed)
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset if info is not None else None
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    if isinstance(dataset, TrainingSet):
        dataset.reseed(seed)


def class_pixel_counts(dataset: SegmentationDataset, indices: Optional[Sequence[int]] = None,
                       progress: bool = False) -> np.ndarray:
    """Count the pixels of each class over the dataset's labels (ignore index excluded).

    Every label read is checked (values outside the class list raise ``ValueError`` naming the
    file), so this pass also validates the training labels before training starts.

    Args:
        dataset: The training dataset.
        indices: Samples to count (default: all).
        progress: Show a tqdm bar.

    Returns:
        ``(C,)`` int64 pixel counts.
    """
    from tqdm import tqdm
    n = dataset.classes.num_classes
    counts = np.zeros(n, dtype=np.int64)
    ignore = dataset.classes.ignore_index
    idx = range(len(dataset)) if indices is None else indices
    for i in tqdm(idx, desc='class frequencies', disable=not progress, unit='img'):
        label = _label_only(dataset, i)
        flat = label.ravel().astype(np.int64)
        if ignore is not None:
            flat = flat[flat != ignore]
        counts += np.bincount(flat[flat < n], minlength=n)[:n]
    return counts


def _label_only(dataset: SegmentationDataset, index: int) -> np.ndarray:
    """Load only the (checked) label of a sample when it is a file; else the whole sample."""
    from enet_ros.data.formats import invalid_label_values, read_label
    s = dataset.samples[index]
    if s.label_fn is not None or s.label_path is None:
        return dataset.load(index)[1]
    label = read_label(s.label_path)
    if dataset.label_map is not None:
        label = dataset.label_map[label]
    if dataset.check_labels:
        bad = invalid_label_values(label, dataset.classes)
        if bad:
            dataset.load(index)  # raises the dataset's own error message
    return label


def split_indices(count: int, fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """Split ``range(count)`` into (train, val) with ``round(count * fraction)`` (>= 1) in val.

    Raises:
        ValueError: If fewer than two samples are available.
    """
    if count < 2:
        raise ValueError(f'cannot hold out a validation fraction from {count} sample(s)')
    rng = np.random.default_rng(seed)
    perm = rng.permutation(count)
    n_val = min(count - 1, max(1, int(round(count * fraction))))
    return sorted(int(i) for i in perm[n_val:]), sorted(int(i) for i in perm[:n_val])


def describe_sizes(dataset: SegmentationDataset, limit: int = 3) -> Dict[str, Any]:
    """Return the image sizes of the first ``limit`` samples (for logs)."""
    sizes = []
    for i in range(min(limit, len(dataset))):
        image, _ = dataset.load(i)
        sizes.append(f'{image.shape[1]}x{image.shape[0]}')
    return {'count': len(dataset), 'first_sizes': sizes}
