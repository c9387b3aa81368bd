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

"""Image message <-> NumPy conversions against references built with NumPy (and OpenCV codecs).

References are built independently of the code under test: channel orders by NumPy slicing,
YUV by the BT.601 formula, Bayer mosaics by hand, padded rows and big-endian data byte by byte.
"""

import struct
import sys
import time
import types

import cv2
from enet_ros.ros import conversions as conv
from enet_ros.ros.conversions import (compressed_to_numpy, image_to_depth, image_to_numpy,
                                      image_to_rgb, ImageConversionError, ImageConverter,
                                      numpy_to_image)
import numpy as np
import pytest

sensor_msgs = pytest.importorskip('sensor_msgs.msg')
std_msgs = pytest.importorskip('std_msgs.msg')
CompressedImage, Image, Header = sensor_msgs.CompressedImage, sensor_msgs.Image, std_msgs.Header

PAD_BYTE = 0xEE  # row padding filler: visible if a decoder reads padding as pixels
RNG = np.random.default_rng(7)


def make_image(pixels, encoding, pad=0, big_endian=False):
    """Build an Image with ``pad`` bytes of padding per row, data in the requested byte order.

    Args:
        pixels: (H, W) or (H, W, C) array in host order; dtype defines the element size.
        encoding: ROS encoding string to put in the message.
        pad: Extra bytes at the end of each row (step = W x bpp + pad).
        big_endian: Store multi-byte elements big-endian and set is_bigendian.

    Returns:
        sensor_msgs Image.
    """
    arr = np.asarray(pixels)
    order = '>' if big_endian else '<'
    stored = arr.astype(arr.dtype.newbyteorder(order)) if arr.dtype.itemsize > 1 else arr
    rows = [stored[r].tobytes() + bytes([PAD_BYTE]) * pad for r in range(arr.shape[0])]
    row_bytes = len(rows[0]) - pad
    return Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding,
                 is_bigendian=int(big_endian), step=row_bytes + pad, data=b''.join(rows))


def message_buffer(msg):
    """Return the message's data as a flat uint8 array (a view)."""
    return np.frombuffer(msg.data, dtype=np.uint8)


def random_rgb(height=5, width=7):
    """Return random RGB uint8 (height, width, 3)."""
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- colour encodings

COLOUR_CASES = {
    # encoding: (build stored pixels from RGB, channels)
    'rgb8': lambda rgb: rgb,
    'bgr8': lambda rgb: rgb[..., ::-1],
    'rgba8': lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)]),
    'bgra8': lambda rgb: np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 9, np.uint8)]),
}


@pytest.mark.parametrize('encoding', sorted(COLOUR_CASES))
@pytest.mark.parametrize('pad', [0, 5])
def test_colour_encodings_to_rgb(encoding, pad):
    rgb = random_rgb(6, 9)
    msg = make_image(np.ascontiguousarray(COLOUR_CASES[encoding](rgb)), encoding, pad=pad)
    out, info = image_to_numpy(msg)
    assert info.name == encoding
    assert out.shape == (6, 9, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


@pytest.mark.parametrize('pad', [0, 3])
def test_rgb8_is_a_zero_copy_view_even_with_padded_rows(pad):
    rgb = random_rgb(4, 5)
    msg = make_image(rgb, 'rgb8', pad=pad)
    out, _ = image_to_numpy(msg)
    assert np.shares_memory(out, message_buffer(msg))
    assert out.strides[0] == msg.step
    np.testing.assert_array_equal(out, rgb)
    assert np.shares_memory(image_to_rgb(msg), message_buffer(msg))


def test_rgb8_640x480_is_a_view_and_well_under_one_millisecond():
    msg = numpy_to_image(random_rgb(480, 640), 'rgb8')
    out = image_to_rgb(msg)
    assert np.shares_memory(out, message_buffer(msg))
    times = []
    for _ in range(200):
        start = time.perf_counter()
        image_to_rgb(msg)
        times.append(time.perf_counter() - start)
    assert float(np.median(times)) < 1e-3, f'median {np.median(times) * 1e6:.1f} us'


# --------------------------------------------------------------------------- one-channel encodings


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
@pytest.mark.parametrize('pad', [0, 3])
def test_8bit_single_channel(encoding, pad):
    gray = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    msg = make_image(gray, encoding, pad=pad)
    out, info = image_to_numpy(msg)
    assert out.shape == (5, 7) and out.dtype == np.uint8 and info.kind == 'mono'
    np.testing.assert_array_equal(out, gray)
    assert np.shares_memory(out, message_buffer(msg))
    np.testing.assert_array_equal(image_to_rgb(msg), np.dstack([gray] * 3))


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('pad', [0, 4, 3])  # 3: rows start at odd addresses
def test_16bit_single_channel_honours_step_and_byte_order(encoding, big_endian, pad):
    values = RNG.integers(0, 65536, (4, 6), dtype=np.uint16)
    values[0, 0], values[0, 1] = 0x0102, 0xFF00  # asymmetric bytes reveal a missing swap
    msg = make_image(values, encoding, pad=pad, big_endian=big_endian)
    out, _ = image_to_numpy(msg)
    assert out.dtype == np.uint16 and out.dtype.isnative and out.shape == (4, 6)
    np.testing.assert_array_equal(out, values)
    host_order = big_endian == (sys.byteorder == 'big')
    if host_order and pad % 2 == 0:
        assert np.shares_memory(out, message_buffer(msg))
    depth = image_to_depth(msg)
    assert depth.dtype == np.uint16
    np.testing.assert_array_equal(depth, values)


@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('pad', [0, 8])
def test_32fc1_depth_in_metres_honours_step_and_byte_order(big_endian, pad):
    metres = RNG.uniform(0.2, 9.5, (3, 5)).astype(np.float32)
    metres[1, 2] = np.nan
    msg = make_image(metres, '32FC1', pad=pad, big_endian=big_endian)
    out = image_to_depth(msg)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, metres)
    raw, info = image_to_numpy(msg)
    assert info.kind == 'depth'
    np.testing.assert_array_equal(raw, metres)


def test_mono16_to_rgb_scales_like_cv_bridge():
    values = np.array([[0, 257, 65535, 1000, 40000]], dtype=np.uint16)
    rgb = image_to_rgb(make_image(values, 'mono16'))
    expected = np.rint(values.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)
    np.testing.assert_array_equal(rgb, np.dstack([expected] * 3))


def test_untyped_8uc3_8uc4_channel_order_is_explicit():
    rgb = random_rgb()
    bgr_msg = make_image(np.ascontiguousarray(rgb[..., ::-1]), '8UC3')
    raw, info = image_to_numpy(bgr_msg)
    assert info.kind == 'untyped'
    np.testing.assert_array_equal(raw, rgb[..., ::-1])  # as stored
    np.testing.assert_array_equal(image_to_rgb(bgr_msg), rgb)  # default: OpenCV's BGR
    rgb_msg = make_image(rgb, '8UC3')
    np.testing.assert_array_equal(image_to_rgb(rgb_msg, untyped_order='rgb'), rgb)
    bgra = np.dstack([rgb[..., ::-1], np.zeros(rgb.shape[:2], np.uint8)])
    np.testing.assert_array_equal(image_to_rgb(make_image(bgra, '8UC4')), rgb)
    with pytest.raises(ValueError, match='untyped_order'):
        image_to_rgb(rgb_msg, untyped_order='grb')


def test_depth_and_colour_are_not_interchangeable():
    with pytest.raises(ImageConversionError, match='not a colour image'):
        image_to_rgb(make_image(np.zeros((2, 2), np.uint16), '16UC1'))
    with pytest.raises(ImageConversionError, match='not a colour image'):
        image_to_rgb(make_image(np.zeros((2, 2), np.float32), '32FC1'))
    with pytest.raises(ImageConversionError, match='not a depth image'):
        image_to_depth(make_image(random_rgb(), 'rgb8'))


# --------------------------------------------------------------------------- YUV 4:2:2


def bt601_rgb(y, u, v):
    """BT.601 limited-range YUV -> RGB (the conversion OpenCV's YUV2RGB_UYVY/YUY2 implement)."""
    c, d, e = y - 16.0, u - 128.0, v - 128.0
    rgb = np.stack([1.164 * c + 1.596 * e,
                    1.164 * c - 0.391 * d - 0.813 * e,
                    1.164 * c + 2.018 * d], axis=-1)
    return np.clip(np.rint(rgb), 0, 255)


def yuv422_case(width=8, height=3):
    """Return (Y (H, W), U (H, W/2), V (H, W/2), expected RGB (H, W, 3))."""
    y = RNG.integers(30, 220, (height, width)).astype(np.float64)
    u = RNG.integers(60, 200, (height, width // 2)).astype(np.float64)
    v = RNG.integers(60, 200, (height, width // 2)).astype(np.float64)
    expected = bt601_rgb(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    return y, u, v, expected


def pack_422(y, u, v, order):
    """Pack planes into (H, W, 2) uint8 bytes: order 'UYVY' or 'YUYV'."""
    height, width = y.shape
    out = np.zeros((height, width // 2, 4), np.uint8)
    planes = {'Y0': y[:, 0::2], 'Y1': y[:, 1::2], 'U': u, 'V': v}
    names = ['U', 'Y0', 'V', 'Y1'] if order == 'UYVY' else ['Y0', 'U', 'Y1', 'V']
    for k, name in enumerate(names):
        out[..., k] = planes[name]
    return out.reshape(height, width, 2)


@pytest.mark.parametrize('encoding,order', [('yuv422', 'UYVY'), ('uyvy', 'UYVY'),
                                            ('yuv422_yuy2', 'YUYV'), ('yuyv', 'YUYV')])
@pytest.mark.parametrize('pad', [0, 6])
def test_yuv422_byte_orders(encoding, order, pad):
    y, u, v, expected = yuv422_case()
    msg = make_image(pack_422(y, u, v, order), encoding, pad=pad)
    rgb, info = image_to_numpy(msg)
    assert info.kind == 'yuv' and rgb.shape == (3, 8, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - expected).max() <= 2
    # The other byte order must decode differently, or the test would not tell them apart.
    other = 'yuv422_yuy2' if order == 'UYVY' else 'yuv422'
    msg.encoding = other
    assert np.abs(image_to_rgb(msg).astype(int) - expected).max() > 20


# --------------------------------------------------------------------------- Bayer


def mosaic(rgb, pattern):
    """Sample an RGB image through a Bayer colour filter; pattern reads the 2x2 cell row-major."""
    out = np.zeros(rgb.shape[:2], np.uint8)
    index = {'R': 0, 'G': 1, 'B': 2}
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = rgb[dy::2, dx::2, index[pattern[2 * dy + dx]]]
    return out


@pytest.mark.parametrize('encoding', ['bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8'])
@pytest.mark.parametrize('pad', [0, 2])
def test_bayer_patterns_give_the_right_colours(encoding, pad):
    colour = np.array([200, 100, 30], np.uint8)  # distinct R, G, B
    rgb = np.broadcast_to(colour, (10, 12, 3)).copy()
    rgb[:, 6:] = [20, 160, 240]  # a second colour on the right half
    pattern = encoding.split('_')[1][:4].upper()
    msg = make_image(mosaic(rgb, pattern), encoding, pad=pad)
    out, info = image_to_numpy(msg)
    assert info.kind == 'bayer' and out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out[2:8, 1:4], rgb[2:8, 1:4])  # interiors of both halves
    np.testing.assert_array_equal(out[2:8, 8:11], rgb[2:8, 8:11])


# --------------------------------------------------------------------------- compressed


def smooth_rgb(height=48, width=64):
    """Return a smooth RGB uint8 gradient (height, width, 3), JPEG-friendly."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.dstack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)]
                     ).astype(np.uint8)


def compressed(fmt, data):
    """Return a CompressedImage with the given format string and bytes."""
    return CompressedImage(format=fmt, data=bytes(data))


@pytest.mark.parametrize('fmt', ['jpeg', 'rgb8; jpeg compressed bgr8',
                                 'bgr8; jpeg compressed bgr8'])
def test_jpeg_decodes_to_rgb_within_tolerance(fmt):
    rgb = smooth_rgb()
    ok, jpeg = cv2.imencode('.jpg', np.ascontiguousarray(rgb[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out, info = compressed_to_numpy(compressed(fmt, jpeg))
    assert out.shape == rgb.shape and out.dtype == np.uint8 and info.name == 'bgr8'
    assert np.abs(out.astype(int) - rgb).mean() < 2.0
    np.testing.assert_array_equal(image_to_rgb(compressed(fmt, jpeg)), out)


def test_png_colour_gray_and_16bit_are_exact():
    rgb = random_rgb(9, 11)
    ok, png = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    out, _ = compressed_to_numpy(compressed('bgr8; png compressed bgr8', png))
    np.testing.assert_array_equal(out, rgb)
    out, _ = compressed_to_numpy(compressed('png', png))
    np.testing.assert_array_equal(out, rgb)
    # A PNG whose target says rgb8 holds RGB as OpenCV sees it: returned unchanged.
    ok, png_rgb = cv2.imencode('.png', rgb)
    out, info = compressed_to_numpy(compressed('rgb8; png compressed rgb8', png_rgb))
    assert info.name == 'rgb8'
    np.testing.assert_array_equal(out, rgb)
    bgra = np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 77, np.uint8)])
    ok, png4 = cv2.imencode('.png', bgra)
    np.testing.assert_array_equal(compressed_to_numpy(compressed('bgra8; png compressed bgra8',
                                                                 png4))[0], rgb)
    gray = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    ok, png_gray = cv2.imencode('.png', gray)
    out, info = compressed_to_numpy(compressed('mono8; png compressed mono8', png_gray))
    assert info.name == 'mono8'
    np.testing.assert_array_equal(out, gray)
    np.testing.assert_array_equal(image_to_rgb(compressed('png', png_gray)), np.dstack([gray] * 3))
    deep = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    ok, png16 = cv2.imencode('.png', deep)
    out, info = compressed_to_numpy(compressed('16UC1; png compressed 16UC1', png16))
    assert out.dtype == np.uint16 and info.name == '16UC1'
    np.testing.assert_array_equal(out, deep)
    np.testing.assert_array_equal(image_to_depth(compressed('16UC1; png compressed 16UC1',
                                                            png16)), deep)


def compressed_depth_bytes(png, quant_a=0.0, quant_b=0.0):
    """Return compressedDepth data: the 12-byte header (format, quantA, quantB), then the PNG."""
    return struct.pack('<iff', 0, quant_a, quant_b) + png.tobytes()


def test_compressed_depth_16uc1_png_is_exact():
    depth_mm = RNG.integers(0, 8000, (6, 8), dtype=np.uint16)
    ok, png = cv2.imencode('.png', depth_mm)
    msg = compressed('16UC1; compressedDepth png', compressed_depth_bytes(png))
    out = image_to_depth(msg)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, depth_mm)
    # Older publishers wrote just 'compressedDepth'.
    np.testing.assert_array_equal(image_to_depth(compressed('16UC1; compressedDepth',
                                                            compressed_depth_bytes(png))),
                                  depth_mm)


def test_compressed_depth_32fc1_inverse_depth_quantisation():
    depth_max, depth_quantization = 10.0, 100.0  # image_transport's defaults
    quant_a = depth_quantization * (depth_quantization + 1.0)
    quant_b = 1.0 - quant_a / depth_max
    metres = RNG.uniform(0.3, 5.0, (6, 8)).astype(np.float32)
    metres[0, 0] = np.nan  # no reading -> 0
    inverse = np.where(np.isfinite(metres), quant_a / np.nan_to_num(metres, nan=1.0) + quant_b, 0)
    ok, png = cv2.imencode('.png', inverse.astype(np.uint16))
    msg = compressed('32FC1; compressedDepth png', compressed_depth_bytes(png, quant_a, quant_b))
    out = image_to_depth(msg)
    assert out.dtype == np.float32 and np.isnan(out[0, 0])
    np.testing.assert_allclose(out[1:], metres[1:], atol=0.005)  # quantisation step <= 2.5 mm


@pytest.mark.parametrize('fmt,data,match', [
    ('jpeg', b'', 'no data'),
    ('jpeg', b'\xff\xd8 not really a jpeg', 'could not decode'),
    ('png', b'\x89PNG\r\n\x1a\n truncated', 'could not decode'),
    ('tiff', b'II*\x00', "format 'tiff' is not supported"),
    ('32FC1; compressedDepth rvl', b'\x00' * 40, 'RVL'),
    ('16UC1; compressedDepth png', b'\x00' * 8, '12-byte header'),
])
def test_bad_compressed_images_raise_naming_the_problem(fmt, data, match):
    with pytest.raises(ImageConversionError, match=match):
        compressed_to_numpy(compressed(fmt, data))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize('kwargs,match', [
    ({'encoding': 'xyz'}, r"unsupported image encoding 'xyz'; supported: rgb8, bgr8"),
    ({'width': 0}, 'zero size'),
    ({'height': 0, 'data': b''}, 'zero size'),
    ({'step': 11}, r'step 11 is smaller than width x bytes per pixel = 4 x 3 = 12'),
    ({'data': bytes(20)}, r'data has 20 bytes but step x height = 12 x 2 = 24'),
])
def test_inconsistent_images_raise_naming_the_problem(kwargs, match):
    fields = {'height': 2, 'width': 4, 'encoding': 'rgb8', 'step': 12, 'data': bytes(24)}
    fields.update(kwargs)
    with pytest.raises(ImageConversionError, match=match):
        image_to_numpy(Image(**fields))
    assert issubclass(ImageConversionError, ValueError)


def test_odd_width_yuv_and_tiny_bayer_raise():
    with pytest.raises(ImageConversionError, match='even width'):
        image_to_numpy(Image(height=2, width=3, encoding='yuv422', step=6, data=bytes(12)))
    with pytest.raises(ImageConversionError, match='at least 2x2'):
        image_to_numpy(Image(height=1, width=4, encoding='bayer_rggb8', step=4, data=bytes(4)))


def test_a_bad_frame_does_not_affect_the_next_good_one():
    converter = ImageConverter(backend='numpy')
    rgb = random_rgb()
    good = make_image(rgb, 'rgb8')
    bad = Image(height=5, width=7, encoding='rgb8', step=21, data=bytes(10))
    with pytest.raises(ImageConversionError):
        converter.to_rgb(bad)
    np.testing.assert_array_equal(converter.to_rgb(good), rgb)


# --------------------------------------------------------------------------- outbound


@pytest.mark.parametrize('encoding,array', [
    ('mono8', RNG.integers(0, 12, (5, 7), dtype=np.uint8)),
    ('mono16', RNG.integers(0, 65536, (5, 7), dtype=np.uint16)),
    ('16UC1', RNG.integers(0, 65536, (5, 7), dtype=np.uint16)),
    ('32FC1', RNG.uniform(0, 1, (5, 7)).astype(np.float32)),
    ('rgb8', RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)),
    ('bgr8', RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)),
])
def test_numpy_to_image_round_trip(encoding, array):
    header = Header(frame_id='camera_color_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = numpy_to_image(array, encoding, header)
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * array.itemsize * (array.shape[2] if array.ndim == 3 else 1)
    assert msg.is_bigendian == (sys.byteorder == 'big')
    assert len(msg.data) == msg.step * msg.height
    assert msg.header.frame_id == 'camera_color_optical_frame' and msg.header.stamp.sec == 12
    back, _ = image_to_numpy(msg)
    np.testing.assert_array_equal(back, array[..., ::-1] if encoding == 'bgr8' else array)


def test_numpy_to_image_accepts_views_and_other_byte_orders():
    base = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    msg = numpy_to_image(base[::2, ::3], 'rgb8')  # non-contiguous
    np.testing.assert_array_equal(image_to_numpy(msg)[0], base[::2, ::3])
    swapped = np.arange(6, dtype='>u2').reshape(2, 3)
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(swapped, 'mono16'))[0],
                                  swapped.astype(np.uint16))
    mask = np.zeros((2, 3, 1), np.uint8)
    assert numpy_to_image(mask, 'mono8').step == 3


@pytest.mark.parametrize('encoding,array,match', [
    ('mono8', np.zeros((2, 3), np.float32), r'dtype float32 does not fit encoding mono8'),
    ('32FC1', np.zeros((2, 3), np.float64), r'astype\(np.float32\)'),
    ('rgb8', np.zeros((2, 3), np.uint8), r'expected \(H, W, 3\)'),
    ('mono8', np.zeros((0, 3), np.uint8), 'zero size'),
    ('xyz', np.zeros((2, 3), np.uint8), "unsupported image encoding 'xyz'"),
])
def test_numpy_to_image_rejects_mismatches(encoding, array, match):
    with pytest.raises(ImageConversionError, match=match):
        numpy_to_image(array, encoding)


def test_messages_survive_rclpy_serialization():
    serialization = pytest.importorskip('rclpy.serialization')
    rgb = random_rgb(48, 64)
    wire = serialization.serialize_message(numpy_to_image(rgb, 'rgb8'))
    msg = serialization.deserialize_message(wire, Image)
    out = image_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert np.shares_memory(out, message_buffer(msg))


# --------------------------------------------------------------------------- backends


class _StandInCvBridge:
    """A stand-in for ROS 2 cv_bridge (not installable here) with its passthrough semantics.

    Like cv_bridge, it returns a host-order copy of the stored layout (honouring step and
    is_bigendian) and rejects encodings it does not know; the real package is used on a ROS
    install. This checks the wiring of the 'cv_bridge' backend, not cv_bridge itself.
    """

    KNOWN = {'rgb8': ('u1', 3), 'bgr8': ('u1', 3), 'rgba8': ('u1', 4), 'bgra8': ('u1', 4),
             'mono8': ('u1', 1), '8UC1': ('u1', 1), '8UC3': ('u1', 3), '8UC4': ('u1', 4),
             'mono16': ('u2', 1), '16UC1': ('u2', 1), '32FC1': ('f4', 1), 'yuv422': ('u1', 2),
             'bayer_rggb8': ('u1', 1), 'bayer_bggr8': ('u1', 1), 'bayer_gbrg8': ('u1', 1),
             'bayer_grbg8': ('u1', 1)}  # no yuv422_yuy2: exercises the fallback

    calls = 0

    def imgmsg_to_cv2(self, msg, desired_encoding='passthrough'):
        assert desired_encoding == 'passthrough'
        if msg.encoding not in self.KNOWN:
            raise TypeError(f'Unrecognized image encoding [{msg.encoding}]')
        type(self).calls += 1
        kind, channels = self.KNOWN[msg.encoding]
        dtype = np.dtype(kind).newbyteorder('>' if msg.is_bigendian else '<')
        flat = np.frombuffer(msg.data, np.uint8)[:msg.step * msg.height].reshape(msg.height, -1)
        rows = flat[:, :msg.width * channels * dtype.itemsize].copy()
        image = rows.view(dtype).astype(dtype.newbyteorder('='))
        return image.reshape(msg.height, msg.width, channels) if channels > 1 else image

    def cv2_to_imgmsg(self, cvim, encoding='passthrough'):
        return numpy_to_image(cvim, encoding)


@pytest.fixture
def stand_in_cv_bridge(monkeypatch):
    """Install the stand-in as the importable ``cv_bridge`` module for one test."""
    module = types.ModuleType('cv_bridge')
    module.CvBridge = _StandInCvBridge
    monkeypatch.setitem(sys.modules, 'cv_bridge', module)
    _StandInCvBridge.calls = 0
    return module


def test_auto_backend_matches_installation():
    expected = 'cv_bridge' if conv.cv_bridge_available() else 'numpy'
    assert ImageConverter().backend == expected
    assert ImageConverter(backend='numpy').backend == 'numpy'
    with pytest.raises(ValueError, match='backend'):
        ImageConverter(backend='opencv')


def test_cv_bridge_backend_gives_identical_results(stand_in_cv_bridge):
    bridge = ImageConverter()
    assert bridge.backend == 'cv_bridge'
    numpy_backend = ImageConverter(backend='numpy')
    y, u, v, _ = yuv422_case()
    rgb = random_rgb(6, 8)
    messages = [
        make_image(rgb, 'rgb8', pad=3),
        make_image(np.ascontiguousarray(rgb[..., ::-1]), 'bgr8'),
        make_image(RNG.integers(0, 65536, (4, 6), dtype=np.uint16), 'mono16', big_endian=True),
        make_image(RNG.uniform(0, 5, (4, 6)).astype(np.float32), '32FC1', pad=4),
        make_image(pack_422(y, u, v, 'UYVY'), 'yuv422'),
        make_image(pack_422(y, u, v, 'YUYV'), 'yuv422_yuy2'),  # stand-in refuses: fallback
        make_image(mosaic(rgb, 'RGGB'), 'bayer_rggb8'),
        make_image(np.ascontiguousarray(rgb[..., ::-1]), '8UC3'),
    ]
    for msg in messages:
        a, info_a = bridge.to_numpy(msg)
        b, info_b = numpy_backend.to_numpy(msg)
        assert info_a == info_b
        np.testing.assert_array_equal(a, b)
        if info_a.kind != 'depth':
            np.testing.assert_array_equal(bridge.to_rgb(msg), numpy_backend.to_rgb(msg))
    assert _StandInCvBridge.calls >= 7
    with pytest.raises(ImageConversionError, match='data has'):
        bridge.to_rgb(Image(height=2, width=2, encoding='rgb8', step=6, data=bytes(3)))
    out = bridge.to_image_msg(rgb, 'rgb8', Header(frame_id='f'))
    assert out.header.frame_id == 'f'
    np.testing.assert_array_equal(bridge.to_rgb(out), rgb)
