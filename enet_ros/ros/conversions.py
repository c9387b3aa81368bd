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

"""Conversions between sensor_msgs Image / CompressedImage messages and NumPy arrays.

Inbound, every decoder chooses by the message's ``encoding`` (or ``format``), never by guessing:

* :func:`image_to_numpy`: colour encodings (rgb8, bgr8, rgba8, bgra8, yuv422 (UYVY),
  yuv422_yuy2 (YUYV), bayer_rggb8/bggr8/gbrg8/grbg8) become RGB uint8 (H, W, 3); single-channel
  encodings (mono8, 8UC1, mono16, 16UC1, 32FC1) become (H, W) of their own dtype; 8UC3 and 8UC4
  come back as stored (H, W, C) uint8 (their channel order is not defined by the encoding).
* :func:`image_to_rgb`: the segmenter's input, RGB uint8 (H, W, 3) for every colour and mono
  encoding (mono replicated to three channels; mono16 scaled by 255/65535 as cv_bridge does).
* :func:`image_to_depth`: 16UC1 / mono16 as uint16 millimetres, 32FC1 as float32 metres.
* :func:`compressed_to_numpy`: JPEG / PNG CompressedImage (image_transport's ``compressed``
  format strings) and ``compressedDepth`` PNG (16UC1 and 32FC1).

``step`` (row padding) and ``is_bigendian`` are honoured. Where the layout allows (rgb8,
mono8/8UC1, and 16-bit / 32-bit data in host byte order with aligned rows) the returned array is a
zero-copy view of ``msg.data``: it shares memory with the message, may be non-contiguous (padded
rows), and must be copied before the message's buffer is changed or to keep it beyond the
message. A message that cannot be decoded raises :class:`ImageConversionError` naming the
problem and the fix; the caller (the node) logs it throttled, counts it and skips the frame.

Outbound, :func:`numpy_to_image` builds an Image with one copy of the pixels (measured fastest
path: ``array.array('B').frombytes(...)`` stored into a message made with ``check_fields=True``,
which keeps the array as is; assigning ``bytes`` costs a second full copy in rclpy's setter).

Where ``cv_bridge`` imports (a ROS 2 install), :class:`ImageConverter` with backend ``'cv_bridge'``
uses ``CvBridge.imgmsg_to_cv2(msg, 'passthrough')`` and ``CvBridge.cv2_to_imgmsg`` for the raw
pixel layout, and applies the same colour conversions as the NumPy backend, so both backends give
identical RGB results. Messages are duck-typed (any object with the Image fields works, e.g. the
rosbags typestore's), so the decoders also serve ``enet-ros replay``.
"""

from __future__ import annotations

import array as pyarray
from dataclasses import dataclass
import logging
import struct
import sys
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

_LOG = logging.getLogger(__name__)
_HOST_IS_BIG_ENDIAN = sys.byteorder == 'big'


class ImageConversionError(ValueError):
    """An image message that cannot be converted; the message names the problem and the fix."""


def _cv_code(preferred: str, fallback: str) -> int:
    """Return an OpenCV colour-conversion code by name, trying an older alias second."""
    return getattr(cv2, preferred) if hasattr(cv2, preferred) else getattr(cv2, fallback)


# OpenCV names Bayer patterns after the second row's 2nd and 3rd pixels, which shifts them by one
# relative to ROS (ROS bayer_rggb8 is OpenCV's BayerBG); OpenCV >= 4.5 also offers the unshifted
# aliases (COLOR_BayerRGGB2RGB == COLOR_BayerBG2RGB). test_conversions.py checks a known colour
# pattern through all four.
_BAYER_CODES = {
    'bayer_rggb8': _cv_code('COLOR_BayerRGGB2RGB', 'COLOR_BayerBG2RGB'),
    'bayer_bggr8': _cv_code('COLOR_BayerBGGR2RGB', 'COLOR_BayerRG2RGB'),
    'bayer_gbrg8': _cv_code('COLOR_BayerGBRG2RGB', 'COLOR_BayerGR2RGB'),
    'bayer_grbg8': _cv_code('COLOR_BayerGRBG2RGB', 'COLOR_BayerGB2RGB'),
}


@dataclass(frozen=True)
class EncodingInfo:
    """How the pixels of one ``sensor_msgs/Image`` encoding are stored.

    Attributes:
        name: ROS encoding string, e.g. ``'rgb8'``.
        dtype: Element type in host byte order (uint8, uint16 or float32).
        channels: Elements per pixel as stored (yuv422: 2, Bayer: 1).
        kind: ``'color'`` (rgb/bgr/rgba/bgra), ``'yuv'``, ``'bayer'``, ``'mono'`` (mono8, 8UC1,
            mono16), ``'depth'`` (16UC1 millimetres, 32FC1 metres) or ``'untyped'`` (8UC3, 8UC4:
            channel order not defined by the encoding).
        to_rgb: OpenCV ``cvtColor`` code to RGB, or ``None`` (already RGB, or not a colour kind).
    """

    name: str
    dtype: np.dtype
    channels: int
    kind: str
    to_rgb: Optional[int] = None

    @property
    def bytes_per_pixel(self) -> int:
        """Bytes per pixel in a row (yuv422: 2)."""
        return self.dtype.itemsize * self.channels


def _info(name, dtype, channels, kind, to_rgb=None) -> EncodingInfo:
    return EncodingInfo(name, np.dtype(dtype), channels, kind, to_rgb)


_U8, _U16, _F32 = np.uint8, np.uint16, np.float32
#: Every ``sensor_msgs/Image`` encoding this module reads and writes.
ENCODINGS: Dict[str, EncodingInfo] = {info.name: info for info in (
    _info('rgb8', _U8, 3, 'color'),
    _info('bgr8', _U8, 3, 'color', cv2.COLOR_BGR2RGB),
    _info('rgba8', _U8, 4, 'color', cv2.COLOR_RGBA2RGB),
    _info('bgra8', _U8, 4, 'color', cv2.COLOR_BGRA2RGB),
    _info('mono8', _U8, 1, 'mono'),
    _info('8UC1', _U8, 1, 'mono'),
    _info('mono16', _U16, 1, 'mono'),
    _info('8UC3', _U8, 3, 'untyped'),
    _info('8UC4', _U8, 4, 'untyped'),
    _info('16UC1', _U16, 1, 'depth'),
    _info('32FC1', _F32, 1, 'depth'),
    # ROS 'yuv422' is UYVY (U0 Y0 V0 Y1); 'yuv422_yuy2' is YUYV (Y0 U0 Y1 V0). 'uyvy' and 'yuyv'
    # are the newer sensor_msgs names of the same layouts.
    _info('yuv422', _U8, 2, 'yuv', cv2.COLOR_YUV2RGB_UYVY),
    _info('uyvy', _U8, 2, 'yuv', cv2.COLOR_YUV2RGB_UYVY),
    _info('yuv422_yuy2', _U8, 2, 'yuv', cv2.COLOR_YUV2RGB_YUY2),
    _info('yuyv', _U8, 2, 'yuv', cv2.COLOR_YUV2RGB_YUY2),
    *(_info(name, _U8, 1, 'bayer', code) for name, code in _BAYER_CODES.items()),
)}
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(ENCODINGS)
#: Channel orders accepted for the untyped 8UC3 / 8UC4 encodings.
UNTYPED_ORDERS = ('bgr', 'rgb')
_UNTYPED_TO_RGB = {
    ('8UC3', 'bgr'): cv2.COLOR_BGR2RGB, ('8UC3', 'rgb'): None,
    ('8UC4', 'bgr'): cv2.COLOR_BGRA2RGB, ('8UC4', 'rgb'): cv2.COLOR_RGBA2RGB,
}
_MONO16_TO_8 = 255.0 / 65535.0  # cv_bridge's scaling from 16-bit to 8-bit


def encoding_info(encoding: str) -> EncodingInfo:
    """Return the :class:`EncodingInfo` of a ROS image encoding.

    Args:
        encoding: ``sensor_msgs/Image.encoding``.

    Returns:
        The layout description.

    Raises:
        ImageConversionError: The encoding is not supported; the message lists those that are.
    """
    info = ENCODINGS.get(encoding)
    if info is None:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}'
            ' (and sensor_msgs/CompressedImage with JPEG or PNG). Configure the camera driver to '
            'publish one of these (rgb8 or bgr8 for colour).')
    return info


def _as_buffer(data: Any) -> Any:
    """Return an object exposing the buffer protocol over the message's ``data`` field."""
    if isinstance(data, (list, tuple)):  # plain Python sequences (rare): one copy
        return np.asarray(data, dtype=np.uint8)
    return data


def _check_layout(msg: Any, info: EncodingInfo) -> Tuple[int, int, int]:
    """Validate size, step and data length; return (height, width, step)."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(
            f'{info.name} image has zero size (width {width}, height {height}); both must be '
            'positive: check the publisher')
    row = width * info.bytes_per_pixel
    if step < row:
        raise ImageConversionError(
            f'{info.name} image step {step} is smaller than width x bytes per pixel = '
            f'{width} x {info.bytes_per_pixel} = {row}; the publisher must set step to at least '
            'that')
    nbytes = memoryview(_as_buffer(msg.data)).nbytes
    if nbytes < step * height:
        raise ImageConversionError(
            f'{info.name} image data has {nbytes} bytes but step x height = {step} x {height} = '
            f'{step * height} ({width}x{height}); the message is truncated or its step/height '
            'are wrong')
    if info.kind == 'yuv' and width % 2:
        raise ImageConversionError(
            f'{info.name} image width {width} is odd; 4:2:2 YUV needs an even width (two pixels '
            'share U and V)')
    if info.kind == 'bayer' and (width < 2 or height < 2):
        raise ImageConversionError(
            f'{info.name} image is {width}x{height}; a Bayer mosaic needs at least 2x2 pixels')
    return height, width, step


def _strided_view(msg: Any, info: EncodingInfo) -> np.ndarray:
    """Return the pixels in the stored layout and host byte order; a view where possible.

    Shape (H, W) for one channel, else (H, W, C); dtype ``info.dtype``.
    """
    height, width, step = _check_layout(msg, info)
    dtype = info.dtype
    swap = dtype.itemsize > 1 and bool(msg.is_bigendian) != _HOST_IS_BIG_ENDIAN
    if swap:
        dtype = dtype.newbyteorder('S')
    item = dtype.itemsize
    if info.channels == 1:
        shape, strides = (height, width), (step, item)
    else:
        shape, strides = (height, width, info.channels), (step, item * info.channels, item)
    view = np.ndarray(shape, dtype=dtype, buffer=_as_buffer(msg.data), strides=strides)
    if swap:
        return view.astype(info.dtype)  # byte-swapping copy into host order, contiguous
    if not view.flags.aligned:  # odd step for 16/32-bit data: OpenCV wants aligned rows
        return np.ascontiguousarray(view)
    return view


def _raw_to_rgb(raw: np.ndarray, info: EncodingInfo, untyped_order: str) -> np.ndarray:
    """Convert a decoded (stored-layout) image to RGB uint8 (H, W, 3)."""
    if info.kind in ('color', 'yuv', 'bayer'):
        return raw if info.to_rgb is None else cv2.cvtColor(raw, info.to_rgb)
    if info.kind == 'mono':
        if raw.dtype == np.uint16:
            raw = cv2.convertScaleAbs(raw, alpha=_MONO16_TO_8)
        return cv2.cvtColor(raw, cv2.COLOR_GRAY2RGB)
    if info.kind == 'untyped':
        if untyped_order not in UNTYPED_ORDERS:
            raise ValueError(f'untyped_order must be one of {UNTYPED_ORDERS}, got '
                             f'{untyped_order!r}')
        code = _UNTYPED_TO_RGB[(info.name, untyped_order)]
        return raw if code is None else cv2.cvtColor(raw, code)
    raise ImageConversionError(
        f'encoding {info.name} is a {info.kind} image, not a colour image: connect the colour '
        f'input to a colour or mono image topic (colour encodings: '
        f'{", ".join(n for n, i in ENCODINGS.items() if i.kind != "depth")})')


def _raw_to_numpy(raw: np.ndarray, info: EncodingInfo) -> np.ndarray:
    """Apply :func:`image_to_numpy`'s rules to a decoded image."""
    if info.kind in ('color', 'yuv', 'bayer'):
        return _raw_to_rgb(raw, info, 'rgb')
    return raw


def _raw_to_depth(raw: np.ndarray, info: EncodingInfo) -> np.ndarray:
    """Return depth (H, W): uint16 millimetres or float32 metres."""
    if info.name in ('16UC1', 'mono16', '32FC1'):
        return raw
    raise ImageConversionError(
        f'encoding {info.name} is not a depth image; depth must be 16UC1 or mono16 '
        '(millimetres) or 32FC1 (metres): connect the depth input to a depth topic '
        '(e.g. .../aligned_depth_to_color/image_raw)')


# --------------------------------------------------------------------------- compressed images

_COMPRESSED_DEPTH_HEADER = struct.Struct('<iff')  # format enum, depthQuantA, depthQuantB


def _decode_failure(what: str, nbytes: int) -> ImageConversionError:
    return ImageConversionError(
        f'OpenCV could not decode the {what} data ({nbytes} bytes): the CompressedImage is '
        'corrupt or truncated, or its format field is wrong')


def _compressed_depth_to_numpy(fmt: str, data: memoryview) -> Tuple[np.ndarray, EncodingInfo]:
    """Decode image_transport's ``compressedDepth`` PNG (12-byte header, then a PNG)."""
    encoding = fmt.split(';', 1)[0].strip() if ';' in fmt else '16UC1'
    if 'rvl' in fmt.lower():
        raise ImageConversionError(
            f'CompressedImage format {fmt!r} (RVL) is not supported; publish the depth with '
            'compressedDepth png, or subscribe to the raw depth topic')
    if encoding not in ('16UC1', 'mono16', '32FC1'):
        raise ImageConversionError(
            f'compressedDepth image has encoding {encoding!r}; only 16UC1, mono16 and 32FC1 are '
            'defined for compressedDepth')
    if len(data) <= _COMPRESSED_DEPTH_HEADER.size:
        raise ImageConversionError(
            f'compressedDepth image has {len(data)} bytes, no room for the 12-byte header and a '
            'PNG: the message is truncated')
    _, quant_a, quant_b = _COMPRESSED_DEPTH_HEADER.unpack_from(data, 0)
    png = np.frombuffer(data, dtype=np.uint8, offset=_COMPRESSED_DEPTH_HEADER.size)
    decoded = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise _decode_failure('compressedDepth PNG', len(png))
    if decoded.ndim != 2 or decoded.dtype != np.uint16:
        raise ImageConversionError(
            f'compressedDepth PNG decoded to {decoded.dtype} with shape {decoded.shape}; '
            'expected one 16-bit channel')
    info = ENCODINGS[encoding]
    if encoding != '32FC1':
        return decoded, info
    # Inverse-depth quantisation of compressed_depth_image_transport: 0 means no reading.
    depth = np.full(decoded.shape, np.nan, dtype=np.float32)
    valid = decoded != 0
    depth[valid] = np.float32(quant_a) / (decoded[valid].astype(np.float32) - np.float32(quant_b))
    return depth, info


def _compressed_info(decoded: np.ndarray, source: Optional[str],
                     target: Optional[str]) -> EncodingInfo:
    """Return the encoding that the decoded pixels represent."""
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    if source in ENCODINGS:
        candidate = ENCODINGS[source]
        if candidate.channels == channels and candidate.dtype == decoded.dtype:
            if candidate.kind not in ('color', 'untyped'):
                return candidate
    rgb_order = target in ('rgb8', 'rgba8', 'rgb16', 'rgba16')
    if decoded.dtype == np.uint8:
        names = {1: 'mono8', 3: 'rgb8' if rgb_order else 'bgr8',
                 4: 'rgba8' if rgb_order else 'bgra8'}
        if channels in names:
            return ENCODINGS[names[channels]]
    elif decoded.dtype == np.uint16 and channels == 1:
        return ENCODINGS['mono16']
    raise ImageConversionError(
        f'compressed image decoded to {channels} channel(s) of {decoded.dtype}; supported: 8-bit '
        'gray, BGR, BGRA and 16-bit gray')


def compressed_to_numpy(msg: Any) -> Tuple[np.ndarray, EncodingInfo]:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, or compressedDepth PNG).

    ``format`` is read as image_transport writes it: ``'jpeg'``, ``'png'``,
    ``'<encoding>; jpeg compressed <target>'`` (e.g. ``'rgb8; jpeg compressed bgr8'``), or
    ``'<encoding>; compressedDepth png'`` (16UC1 / 32FC1 depth, with its 12-byte header). The
    decoded channel order is the ``<target>`` one (BGR when absent, OpenCV's convention).

    Args:
        msg: A CompressedImage (fields ``format`` and ``data``).

    Returns:
        ``(array, info)``: RGB uint8 (H, W, 3) for colour data (alpha dropped); (H, W) uint8 for
        8-bit gray; (H, W) uint16 for 16-bit gray and 16UC1 depth (millimetres); (H, W) float32
        metres for 32FC1 compressedDepth (NaN where there is no reading). ``info`` describes the
        pixels as transmitted (e.g. ``bgr8`` for a JPEG, ``16UC1`` for compressedDepth).

    Raises:
        ImageConversionError: Empty data, an unsupported format, or data OpenCV cannot decode.
    """
    fmt = str(msg.format).strip()
    data = memoryview(_as_buffer(msg.data)).cast('B')
    if len(data) == 0:
        raise ImageConversionError(
            f'CompressedImage (format {fmt!r}) has no data: the publisher sent an empty frame')
    if 'compresseddepth' in fmt.lower():
        return _compressed_depth_to_numpy(fmt, data)
    source = target = None
    codec = fmt
    if ';' in fmt:
        source, rest = (part.strip() for part in fmt.split(';', 1))
        words = rest.split()
        codec = words[0] if words else ''
        if len(words) >= 3 and words[1] == 'compressed':
            target = words[2]
    codec = codec.lower()
    if not codec:  # some drivers leave format empty: use the file signature
        head = bytes(data[:8])
        codec = 'png' if head.startswith(b'\x89PNG') else (
            'jpeg' if head.startswith(b'\xff\xd8') else codec)
    if codec not in ('jpeg', 'jpg', 'png'):
        raise ImageConversionError(
            f'CompressedImage format {fmt!r} is not supported; supported: jpeg, png (as written '
            "by image_transport's compressed plugin) and compressedDepth png")
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise _decode_failure(codec.upper(), len(data))
    info = _compressed_info(decoded, source, target)
    if info.kind == 'color':
        return _raw_to_rgb(decoded, info, 'rgb'), info
    return decoded, info


# --------------------------------------------------------------------------- outbound


_IMAGE_CLS = None
_CHECKED_FIELDS_OK = True


def _new_image() -> Any:
    """Return an empty sensor_msgs Image whose ``data`` setter keeps an array.array as is.

    Jazzy's generated setter copies an ``array.array`` again unless the message was made with
    ``check_fields=True``; Humble's never copies it and has no such argument.
    """
    global _IMAGE_CLS, _CHECKED_FIELDS_OK
    if _IMAGE_CLS is None:
        from sensor_msgs.msg import Image
        _IMAGE_CLS = Image
    if _CHECKED_FIELDS_OK:
        try:
            return _IMAGE_CLS(check_fields=True)
        except (TypeError, AssertionError):
            _CHECKED_FIELDS_OK = False
    return _IMAGE_CLS()


def _check_outbound(array_in: Any, encoding: str) -> Tuple[np.ndarray, EncodingInfo]:
    """Validate an array against an encoding; return it C-contiguous in host byte order."""
    info = encoding_info(encoding)
    arr = np.asarray(array_in)
    if arr.ndim == 3 and arr.shape[2] == 1 and info.channels == 1:
        arr = arr[:, :, 0]
    expected = '(H, W)' if info.channels == 1 else f'(H, W, {info.channels})'
    if (arr.ndim != (2 if info.channels == 1 else 3)
            or (info.channels > 1 and arr.shape[2] != info.channels)):
        raise ImageConversionError(
            f'array of shape {arr.shape} does not fit encoding {encoding}: expected {expected}')
    if arr.dtype.kind != info.dtype.kind or arr.dtype.itemsize != info.dtype.itemsize:
        raise ImageConversionError(
            f'array dtype {arr.dtype} does not fit encoding {encoding} ({info.dtype}): convert '
            f'with array.astype(np.{info.dtype.name})')
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageConversionError(f'array of shape {arr.shape} has zero size')
    if arr.dtype != info.dtype:  # other byte order: swap into host order
        arr = arr.astype(info.dtype)
    return np.ascontiguousarray(arr), info


def numpy_to_image(array: np.ndarray, encoding: str, header: Any = None) -> Any:
    """Build a ``sensor_msgs/Image`` from an array, with a single copy of the pixels.

    Args:
        array: (H, W) for one-channel encodings (mono8/8UC1 uint8 class ids or gray,
            mono16/16UC1 uint16, 32FC1 float32 e.g. confidence in [0, 1]); (H, W, C) uint8 for
            rgb8/bgr8 (C=3) and rgba8/bgra8 (C=4). Any strides; a non-contiguous array costs one
            extra copy.
        encoding: One of :data:`SUPPORTED_ENCODINGS`.
        header: ``std_msgs/Header`` to copy (stamp and frame_id of the input image), or ``None``.

    Returns:
        The message: host byte order (``is_bigendian`` set accordingly), ``step = W x bytes per
        pixel`` (no padding).

    Raises:
        ImageConversionError: Unknown encoding, or an array whose shape/dtype do not fit it.
    """
    arr, info = _check_outbound(array, encoding)
    msg = _new_image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(_HOST_IS_BIG_ENDIAN)
    msg.step = msg.width * info.bytes_per_pixel
    data = pyarray.array('B')
    data.frombytes(arr.reshape(-1).view(np.uint8))  # the one copy
    msg.data = data
    return msg


# --------------------------------------------------------------------------- converter


def _is_compressed(msg: Any) -> bool:
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def cv_bridge_available() -> bool:
    """Return True when the ROS 2 ``cv_bridge`` Python package imports."""
    try:
        import cv_bridge  # noqa: F401
    except ImportError:
        return False
    return True


class ImageConverter:
    """Converts image messages to NumPy arrays and back, with cv_bridge where it is installed.

    Both backends validate messages the same way (so errors and the skip-and-count behaviour do
    not depend on the installation) and apply the same colour conversions to RGB; they differ
    only in how the raw pixel layout is read and written:

    * ``'numpy'``: strided zero-copy views (this module's own decoder).
    * ``'cv_bridge'``: ``CvBridge().imgmsg_to_cv2(msg, 'passthrough')`` and
      ``cv2_to_imgmsg``; a message cv_bridge cannot read (e.g. an encoding it predates, or
      big-endian data under NumPy 2 in older releases) falls back to the NumPy decoder.

    Attributes:
        backend: ``'cv_bridge'`` or ``'numpy'``.
        untyped_order: Channel order assumed for 8UC3 / 8UC4 colour input: ``'bgr'`` (default:
            OpenCV images published with cv_bridge's ``passthrough`` encoding) or ``'rgb'``.
    """

    def __init__(self, backend: str = 'auto', untyped_order: str = 'bgr'):
        """Choose the backend.

        Args:
            backend: ``'auto'`` (cv_bridge when it imports, else NumPy), ``'cv_bridge'`` or
                ``'numpy'``.
            untyped_order: See the class attributes.

        Raises:
            ValueError: Unknown backend or order, or ``'cv_bridge'`` requested but not
                importable.
        """
        if untyped_order not in UNTYPED_ORDERS:
            raise ValueError(f'untyped_order must be one of {UNTYPED_ORDERS}, got '
                             f'{untyped_order!r}')
        if backend not in ('auto', 'cv_bridge', 'numpy'):
            raise ValueError(f"backend must be 'auto', 'cv_bridge' or 'numpy', got {backend!r}")
        if backend == 'auto':
            backend = 'cv_bridge' if cv_bridge_available() else 'numpy'
        self._bridge = None
        if backend == 'cv_bridge':
            try:
                from cv_bridge import CvBridge
            except ImportError as exc:
                raise ValueError(
                    "backend 'cv_bridge' requested but cv_bridge does not import "
                    f"({exc}); install ros-<distro>-cv-bridge or use backend 'numpy'") from exc
            self._bridge = CvBridge()
        self.backend = backend
        self.untyped_order = untyped_order
        self._fallback_logged = set()

    def _decode(self, msg: Any) -> Tuple[np.ndarray, EncodingInfo]:
        """Return the stored-layout pixels (host byte order) and the encoding."""
        info = encoding_info(str(msg.encoding))
        if self._bridge is None:
            return _strided_view(msg, info), info
        height, width, _ = _check_layout(msg, info)
        try:
            raw = np.asarray(self._bridge.imgmsg_to_cv2(msg, 'passthrough'))
            expected = (height, width) if info.channels == 1 else (height, width, info.channels)
            if raw.shape != expected or raw.dtype.kind != info.dtype.kind \
                    or raw.dtype.itemsize != info.dtype.itemsize:
                raise TypeError(f'cv_bridge returned {raw.dtype} {raw.shape}, expected '
                                f'{info.dtype} {expected}')
            if raw.dtype != info.dtype:
                raw = raw.astype(info.dtype)
            return raw, info
        except Exception as exc:  # noqa: B902 - cv_bridge raises several types; fall back
            if info.name not in self._fallback_logged:
                self._fallback_logged.add(info.name)
                _LOG.warning('cv_bridge could not read a %s image (%s); using the NumPy decoder '
                             'for it', info.name, exc)
            return _strided_view(msg, info), info

    def to_numpy(self, msg: Any) -> Tuple[np.ndarray, EncodingInfo]:
        """Decode an Image or CompressedImage; see :func:`image_to_numpy`.

        Args:
            msg: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``.

        Returns:
            ``(array, info)`` as :func:`image_to_numpy` / :func:`compressed_to_numpy`.

        Raises:
            ImageConversionError: The message cannot be decoded (the text says why).
        """
        if _is_compressed(msg):
            return compressed_to_numpy(msg)
        raw, info = self._decode(msg)
        return _raw_to_numpy(raw, info), info

    def to_rgb(self, msg: Any) -> np.ndarray:
        """Return the segmenter's colour input; see :func:`image_to_rgb`.

        Args:
            msg: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``.

        Returns:
            RGB uint8 (H, W, 3), possibly a view of ``msg.data`` (rgb8).

        Raises:
            ImageConversionError: Not decodable, or not a colour / mono image (e.g. depth).
        """
        if _is_compressed(msg):
            decoded, info = compressed_to_numpy(msg)
            return decoded if info.kind == 'color' else _raw_to_rgb(decoded, info, 'rgb')
        raw, info = self._decode(msg)
        return _raw_to_rgb(raw, info, self.untyped_order)

    def to_depth(self, msg: Any) -> np.ndarray:
        """Return a depth image; see :func:`image_to_depth`.

        Args:
            msg: ``sensor_msgs/Image`` (16UC1, mono16, 32FC1) or a compressedDepth
                ``sensor_msgs/CompressedImage``.

        Returns:
            (H, W) uint16 millimetres (0: no reading) or float32 metres (NaN or 0: no reading).

        Raises:
            ImageConversionError: Not decodable, or not a depth encoding.
        """
        if _is_compressed(msg):
            decoded, info = compressed_to_numpy(msg)
            return _raw_to_depth(decoded, info)
        raw, info = self._decode(msg)
        return _raw_to_depth(raw, info)

    def to_image_msg(self, array: np.ndarray, encoding: str, header: Any = None) -> Any:
        """Build an Image message; see :func:`numpy_to_image`.

        Args:
            array: Pixels; shape and dtype must fit ``encoding``.
            encoding: One of :data:`SUPPORTED_ENCODINGS` (outputs use mono8, mono16, 32FC1,
                rgb8, bgr8).
            header: ``std_msgs/Header`` to copy, or ``None``.

        Returns:
            The ``sensor_msgs/Image``.

        Raises:
            ImageConversionError: Unknown encoding, or shape/dtype that do not fit it.
        """
        if self._bridge is None:
            return numpy_to_image(array, encoding, header)
        arr, _ = _check_outbound(array, encoding)
        msg = self._bridge.cv2_to_imgmsg(arr, encoding=encoding)
        if header is not None:
            msg.header = header
        return msg


_DEFAULT = ImageConverter(backend='numpy')


def image_to_numpy(msg: Any) -> Tuple[np.ndarray, EncodingInfo]:
    """Decode a ``sensor_msgs/Image`` with this module's NumPy decoder.

    Args:
        msg: The Image (fields ``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``,
            ``data``).

    Returns:
        ``(array, info)``. ``array``: RGB uint8 (H, W, 3) for rgb8, bgr8, rgba8, bgra8, yuv422,
        yuv422_yuy2 and bayer_*; (H, W) uint8 for mono8 / 8UC1; (H, W) uint16 for mono16 and
        16UC1 (millimetres for depth); (H, W) float32 for 32FC1 (metres for depth);
        (H, W, C) uint8 as stored for 8UC3 / 8UC4. Host byte order. A zero-copy view of
        ``msg.data`` for rgb8, mono8, 8UC1, 8UC3, 8UC4 and host-order 16/32-bit data.
        ``info``: the message's encoding.

    Raises:
        ImageConversionError: Unknown encoding, zero size, step smaller than a row, data
            shorter than step x height, odd width for yuv422.
    """
    return _DEFAULT.to_numpy(msg)


def image_to_rgb(msg: Any, untyped_order: str = 'bgr') -> np.ndarray:
    """Return RGB uint8 (H, W, 3) from any colour or mono Image or CompressedImage.

    Colour encodings are converted with OpenCV; mono8 / 8UC1 are replicated to three channels;
    mono16 is scaled by 255/65535 first (as cv_bridge converts mono16 to 8-bit); 8UC3 / 8UC4
    use ``untyped_order``.

    Args:
        msg: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``.
        untyped_order: ``'bgr'`` or ``'rgb'``: channel order of 8UC3 / 8UC4 data.

    Returns:
        RGB uint8 (H, W, 3); a zero-copy (possibly row-strided) view of ``msg.data`` for rgb8.

    Raises:
        ImageConversionError: Not decodable, or a depth encoding (16UC1, 32FC1).
    """
    if untyped_order == _DEFAULT.untyped_order:
        return _DEFAULT.to_rgb(msg)
    return ImageConverter(backend='numpy', untyped_order=untyped_order).to_rgb(msg)


def image_to_depth(msg: Any) -> np.ndarray:
    """Return a depth image from a 16UC1 / mono16 / 32FC1 Image or compressedDepth image.

    Args:
        msg: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` (compressedDepth).

    Returns:
        (H, W) uint16 millimetres for 16UC1 / mono16 (0: no reading), or (H, W) float32
        metres for 32FC1 (NaN or 0: no reading); host byte order.

    Raises:
        ImageConversionError: Not decodable, or not a depth encoding.
    """
    return _DEFAULT.to_depth(msg)
