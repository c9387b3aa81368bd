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

"""``enet-ros bag-from-images``: a folder of images as a rosbag2 of sensor_msgs/Image.

Example (CamVid test images with their labels, then the replay scores them)::

    enet-ros bag-from-images ../shared/data/camvid_segnet/test out/camvid_bag
        --labels ../shared/data/camvid_segnet/testannot --classes camvid --limit 10
    enet-ros replay out/camvid_bag --weights /tmp/davidtvs.pt --fast

Images (png, jpg, jpeg, bmp, tif, tiff, webp) are taken in sorted file-name order and written
as rgb8 ``sensor_msgs/msg/Image`` on ``--topic`` (default ``/camera/color/image_raw``) at
``--rate`` Hz: header stamp = bag time = ``--stamp-start`` + index / rate, frame_id
``--frame-id``. Each frame also gets a ``sensor_msgs/msg/CameraInfo`` (same stamp) on
``--camera-info-topic``: from ``--camera-info FILE`` (a ROS camera_info YAML as
camera_calibration writes it: ``image_width``, ``camera_matrix``, ``distortion_model``,
``distortion_coefficients``, ``rectification_matrix``, ``projection_matrix``; or the
sensor_msgs field names ``width``, ``k``, ``d``, ``r``, ``p`` as ``enet-ros synth`` writes them),
scaled to each image's size when the aspect ratio agrees; without one, a pinhole guess
(60 degree horizontal field of view, centred principal point, no distortion) with a warning.

With ``--labels DIR`` every image needs a label image of the same stem in DIR (class ids, one
channel): it is written as mono8 (mono16 above 255) on ``/enet_ros/ground_truth/mask``, and a
``std_msgs/msg/String`` JSON on ``/enet_ros/ground_truth`` names the source files and, with
``--classes``, the label class list (``meta.labels.classes`` and ``ignore_index``), so that
``enet-ros replay`` reports the mIoU of the node's masks.

Only ``rosbags`` and OpenCV are used (no ROS installation needed).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
from typing import Any, Dict, List, Optional, Tuple

LOG = logging.getLogger(__name__)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
TOPIC_GT = '/enet_ros/ground_truth'
TOPIC_GT_MASK = '/enet_ros/ground_truth/mask'
DEFAULT_HFOV_DEG = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('images', metavar='DIR', help='folder of images')
    parser.add_argument('out', metavar='OUT', help='rosbag2 folder to create (must not exist)')
    parser.add_argument('--rate', type=float, default=5.0, metavar='HZ',
                        help='frame rate of the stamps, Hz (default 5)')
    parser.add_argument('--camera-info', metavar='FILE',
                        help='camera_info YAML (default: a 60 degree pinhole guess, with a '
                             'warning)')
    parser.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap',
                        help='rosbag2 storage (default mcap)')
    parser.add_argument('--topic', default='/camera/color/image_raw',
                        help='image topic (default %(default)s)')
    parser.add_argument('--camera-info-topic', default='/camera/color/camera_info',
                        help='camera_info topic (default %(default)s)')
    parser.add_argument('--frame-id', default='camera_color_optical_frame',
                        help='header.frame_id (default %(default)s)')
    parser.add_argument('--labels', metavar='DIR',
                        help='folder of label images (class ids, same file stems): written as '
                             'ground truth for enet-ros replay')
    parser.add_argument('--classes', metavar='NAME|FILE',
                        help='class list of the labels: camvid, cityscapes, boxes or a YAML/JSON '
                             'file (recorded in the ground-truth JSON)')
    parser.add_argument('--stamp-start', type=float, default=1700000000.0, metavar='S',
                        help='stamp of the first image, seconds since the epoch (default '
                             '1700000000)')
    parser.add_argument('--limit', type=int, metavar='N', help='only the first N images')


def list_images(folder: str) -> List[str]:
    """Return the image files of a folder, sorted by name.

    Raises:
        FileNotFoundError: The folder does not exist or holds no image.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'image folder {folder} does not exist')
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {folder}')
    return [os.path.join(folder, n) for n in names]


def find_label(labels_dir: str, image_path: str) -> str:
    """Return the label file of an image: the same stem (any image extension) in ``labels_dir``.

    Raises:
        FileNotFoundError: No such file (the message names the expected stem).
    """
    stem = os.path.splitext(os.path.basename(image_path))[0]
    for ext in ('.png',) + IMAGE_EXTENSIONS:
        path = os.path.join(labels_dir, stem + ext)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f'no label for {os.path.basename(image_path)} in {labels_dir} '
                            f'(expected {stem}.png)')


def _matrix(value: Any, rows: int, cols: int, name: str) -> List[float]:
    data = value.get('data') if isinstance(value, dict) else value
    if data is None or len(data) != rows * cols:
        raise ValueError(f'camera_info {name}: expected {rows}x{cols} = {rows * cols} numbers')
    return [float(v) for v in data]


def load_camera_info(path: str) -> Dict[str, Any]:
    """Read a camera_info YAML (camera_calibration layout, or sensor_msgs field names).

    Args:
        path: The YAML file.

    Returns:
        ``{'width', 'height', 'distortion_model', 'd', 'k', 'r', 'p'}`` (lists of floats).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: A field is missing or has the wrong size (the message names it).
    """
    import yaml
    if not os.path.isfile(path):
        raise FileNotFoundError(f'camera_info file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        doc = yaml.safe_load(f) or {}
    if not isinstance(doc, dict):
        raise ValueError(f'{path}: not a camera_info YAML mapping')
    try:
        if 'camera_matrix' in doc:
            info = {'width': int(doc['image_width']), 'height': int(doc['image_height']),
                    'distortion_model': str(doc.get('distortion_model', 'plumb_bob')),
                    'k': _matrix(doc['camera_matrix'], 3, 3, 'camera_matrix'),
                    'd': [float(v) for v in (doc.get('distortion_coefficients') or {}).get(
                        'data', [])]}
            info['r'] = (_matrix(doc['rectification_matrix'], 3, 3, 'rectification_matrix')
                         if 'rectification_matrix' in doc else None)
            info['p'] = (_matrix(doc['projection_matrix'], 3, 4, 'projection_matrix')
                         if 'projection_matrix' in doc else None)
        else:
            info = {'width': int(doc['width']), 'height': int(doc['height']),
                    'distortion_model': str(doc.get('distortion_model', 'plumb_bob')),
                    'k': _matrix(doc['k'], 3, 3, 'k'),
                    'd': [float(v) for v in doc.get('d', [])],
                    'r': _matrix(doc['r'], 3, 3, 'r') if 'r' in doc else None,
                    'p': _matrix(doc['p'], 3, 4, 'p') if 'p' in doc else None}
    except KeyError as exc:
        raise ValueError(f'{path}: camera_info field {exc} missing (need image_width, '
                         'image_height, camera_matrix; or width, height, k)') from None
    if info['r'] is None:
        info['r'] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    if info['p'] is None:
        k = info['k']
        info['p'] = k[0:3] + [0.0] + k[3:6] + [0.0] + k[6:9] + [0.0]
    return info


def guess_camera_info(width: int, height: int) -> Dict[str, Any]:
    """Return a pinhole camera_info for an image size: 60 degree horizontal FOV, centred.

    Args:
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        The camera_info dict (see :func:`load_camera_info`), no distortion.
    """
    f = width / (2.0 * math.tan(math.radians(DEFAULT_HFOV_DEG) / 2.0))
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return {'width': width, 'height': height, 'distortion_model': 'plumb_bob',
            'd': [0.0] * 5, 'k': [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0],
            'r': [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            'p': [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]}


def scale_camera_info(info: Dict[str, Any], width: int, height: int) -> Dict[str, Any]:
    """Return ``info`` for an image of another size with the same aspect ratio.

    K and P are scaled with the pixel-centre convention (``c' = (c + 0.5) s - 0.5``).

    Raises:
        ValueError: The aspect ratios differ (the message names both sizes).
    """
    if (info['width'], info['height']) == (width, height):
        return info
    if abs(info['height'] * width / info['width'] - height) > 1.0:
        raise ValueError(f'camera_info is for {info["width"]}x{info["height"]} but an image is '
                         f'{width}x{height}: the aspect ratios differ; give a camera_info for '
                         'this size')
    sx, sy = width / info['width'], height / info['height']
    k, p = list(info['k']), list(info['p'])
    for mat, stride in ((k, 3), (p, 4)):
        mat[0] *= sx
        mat[1] *= sx
        mat[2] = (mat[2] + 0.5) * sx - 0.5
        mat[stride + 1] *= sy
        mat[stride + 2] = (mat[stride + 2] + 0.5) * sy - 0.5
    out = dict(info, width=width, height=height, k=k, p=p)
    return out


class _Writer:
    """The bag and its messages (rosbags type store, ROS 2 Jazzy definitions)."""

    def __init__(self, path: str, storage: str) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores
        from enet_ros.ros.bag_io import BAG_VERSION
        if os.path.exists(path):
            raise FileExistsError(f'{path} exists; remove it or choose another OUT')
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.store = get_typestore(Stores.ROS2_JAZZY)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self.writer = Writer(path, version=BAG_VERSION[storage], storage_plugin=plugin)
        self.writer.open()
        self.conns: Dict[str, Any] = {}

    def put(self, topic: str, msgtype: str, msg: Any, stamp_ns: int) -> None:
        conn = self.conns.get(topic)
        if conn is None:
            conn = self.conns[topic] = self.writer.add_connection(topic, msgtype,
                                                                  typestore=self.store)
        data = self.store.serialize_cdr(msg, msgtype, little_endian=True)
        self.writer.write(conn, stamp_ns, bytes(data))

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        from enet_ros.synth.bag import header_msg
        return header_msg(self.store, stamp_ns, frame_id)

    def image(self, array: Any, encoding: str, stamp_ns: int, frame_id: str) -> Any:
        from enet_ros.synth.bag import image_msg
        return image_msg(self.store, array, encoding, stamp_ns, frame_id)

    def camera_info(self, info: Dict[str, Any], stamp_ns: int, frame_id: str) -> Any:
        import numpy as np
        t = self.store.types
        return t['sensor_msgs/msg/CameraInfo'](
            header=self.header(stamp_ns, frame_id), height=int(info['height']),
            width=int(info['width']), distortion_model=info['distortion_model'],
            d=np.asarray(info['d'], np.float64), k=np.asarray(info['k'], np.float64),
            r=np.asarray(info['r'], np.float64), p=np.asarray(info['p'], np.float64),
            binning_x=0, binning_y=0,
            roi=t['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0,
                                                      do_rectify=False))

    def close(self) -> None:
        self.writer.close()


def _read_rgb(path: str) -> Any:
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot read image {path}')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _read_label(path: str, shape: Tuple[int, int]) -> Any:
    import cv2
    import numpy as np
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'cannot read label {path}')
    if label.ndim == 3:
        if np.all(label == label[..., :1]):
            label = label[..., 0]
        else:
            raise ValueError(f'{path} is a colour image; labels must hold class ids in one '
                             'channel')
    if label.shape[:2] != shape:
        raise ValueError(f'label {path} is {label.shape[1]}x{label.shape[0]} but its image is '
                         f'{shape[1]}x{shape[0]}')
    return label


def write_bag(images: List[str], out: str, rate: float = 5.0, camera_info: Optional[str] = None,
              storage: str = 'mcap', topic: str = '/camera/color/image_raw',
              camera_info_topic: str = '/camera/color/camera_info',
              frame_id: str = 'camera_color_optical_frame', labels: Optional[str] = None,
              classes: Any = None, stamp_start_ns: int = 1_700_000_000 * 1_000_000_000
              ) -> Dict[str, int]:
    """Write images (and labels) into a new rosbag2.

    Args:
        images: Image files, in order.
        out: Bag folder to create.
        rate: Frame rate of the stamps, Hz (> 0).
        camera_info: camera_info YAML, or None for the pinhole guess.
        storage: ``'mcap'`` or ``'sqlite3'``.
        topic: Image topic.
        camera_info_topic: camera_info topic.
        frame_id: ``header.frame_id``.
        labels: Folder of label images, or None.
        classes: The labels' :class:`~enet_ros.model.checkpoint.ClassInfo`, or None.
        stamp_start_ns: Stamp of the first image, integer nanoseconds.

    Returns:
        Messages written per topic.

    Raises:
        ValueError: Bad rate, unreadable image or label, camera_info of another aspect ratio.
        FileExistsError: ``out`` exists.
        FileNotFoundError: A label is missing (no bag is left behind on any error).
    """
    import numpy as np
    if not rate > 0:
        raise ValueError(f'--rate must be > 0 Hz, got {rate}')
    base_info = load_camera_info(camera_info) if camera_info else None
    warned = False
    counts: Dict[str, int] = {}
    writer = _Writer(out, storage)
    ok = False
    try:
        for index, path in enumerate(images):
            stamp = int(stamp_start_ns + round(index * 1e9 / rate))
            rgb = _read_rgb(path)
            h, w = rgb.shape[:2]
            if base_info is None:
                if not warned:
                    LOG.warning('no --camera-info: using a %g degree pinhole guess (box poses '
                                'will be wrong); give the camera calibration YAML',
                                DEFAULT_HFOV_DEG)
                    warned = True
                info = guess_camera_info(w, h)
            else:
                info = scale_camera_info(base_info, w, h)
            writer.put(topic, 'sensor_msgs/msg/Image', writer.image(rgb, 'rgb8', stamp, frame_id),
                       stamp)
            writer.put(camera_info_topic, 'sensor_msgs/msg/CameraInfo',
                       writer.camera_info(info, stamp, frame_id), stamp)
            counts[topic] = counts.get(topic, 0) + 1
            counts[camera_info_topic] = counts.get(camera_info_topic, 0) + 1
            if labels:
                label_path = find_label(labels, path)
                label = _read_label(label_path, (h, w))
                encoding = 'mono8' if int(label.max(initial=0)) <= 255 else 'mono16'
                label = label.astype(np.uint8 if encoding == 'mono8' else np.uint16)
                doc: Dict[str, Any] = {
                    'header': {'stamp': {'sec': stamp // 1_000_000_000,
                                         'nanosec': stamp % 1_000_000_000},
                               'frame_id': frame_id},
                    'source': {'image': os.path.basename(path),
                               'label': os.path.basename(label_path)},
                    'meta': {'generator': 'enet-ros bag-from-images'}}
                if classes is not None:
                    doc['meta']['labels'] = {'classes': list(classes.names),
                                             'ignore_index': classes.ignore_index}
                writer.put(TOPIC_GT, 'std_msgs/msg/String',
                           writer.store.types['std_msgs/msg/String'](data=json.dumps(doc)),
                           stamp)
                writer.put(TOPIC_GT_MASK, 'sensor_msgs/msg/Image',
                           writer.image(label, encoding, stamp, frame_id), stamp)
                counts[TOPIC_GT] = counts.get(TOPIC_GT, 0) + 1
                counts[TOPIC_GT_MASK] = counts.get(TOPIC_GT_MASK, 0) + 1
        ok = True
    finally:
        writer.close()
        if not ok:  # leave no half-written bag behind
            shutil.rmtree(out, ignore_errors=True)
    return counts


def run(args: argparse.Namespace) -> int:
    """Write the bag and print what it holds; return 0."""
    from tqdm import tqdm
    images = list_images(args.images)
    if os.path.exists(args.out):
        raise ValueError(f'{args.out} exists; remove it or choose another OUT')
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f'--limit must be >= 1, got {args.limit}')
        images = images[:args.limit]
    classes = None
    if args.classes:
        if not args.labels:
            raise ValueError('--classes describes --labels; give --labels DIR too')
        from enet_ros.classes import load_classes
        classes = load_classes(args.classes, allow_ignored_class=True)
    if args.labels and not os.path.isdir(args.labels):
        raise FileNotFoundError(f'label folder {args.labels} does not exist')
    start_ns = (int(args.stamp_start) * 1_000_000_000
                + int(round((args.stamp_start % 1.0) * 1e9)))
    counts = write_bag(tqdm(images, desc='bag-from-images', unit='img'), args.out,
                       rate=args.rate, camera_info=args.camera_info, storage=args.storage,
                       topic=args.topic, camera_info_topic=args.camera_info_topic,
                       frame_id=args.frame_id, labels=args.labels, classes=classes,
                       stamp_start_ns=start_ns)
    print(f'{args.out} ({args.storage}): {len(images)} images at {args.rate:g} Hz')
    for topic, n in counts.items():
        print(f'  {topic}: {n}')
    return 0
