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

"""Median microseconds per image message conversion, 640x480 beside 1280x720.

Inbound: sensor_msgs/Image and CompressedImage (as deserialised by rclpy) to NumPy, per encoding.
Outbound: the node's outputs (mono8 class-id mask, 32FC1 confidence, rgb8 overlay) to Image,
and, for reference, other ways of filling ``Image.data`` and the rclpy serialisation that
``publish`` performs.

Run: ``.venv/bin/python bench/bench_conversions.py [--repeat N]``
"""

import argparse
import array
import platform
import time

import cv2
from enet_ros.ros.conversions import (image_to_depth, image_to_numpy, image_to_rgb,
                                      numpy_to_image)
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

SIZES = ((640, 480), (1280, 720))


def median_us(func, repeat):
    """Return the median wall time of ``func()`` in microseconds over ``repeat`` calls."""
    func()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


def received(msg, cls=Image):
    """Return the message as a subscriber gets it (rclpy deserialisation, data as array.array)."""
    return deserialize_message(serialize_message(msg), cls)


def padded(msg, pad):
    """Return a copy of an Image with ``pad`` bytes of padding at the end of every row."""
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    out = np.zeros((msg.height, msg.step + pad), np.uint8)
    out[:, :msg.step] = rows
    new = numpy_to_image(out, 'mono8')
    new.encoding, new.width, new.step = msg.encoding, msg.width, msg.step + pad
    return new


def big_endian(msg):
    """Return a copy of a 16-bit Image stored big-endian."""
    values = np.frombuffer(msg.data, np.uint16).astype('>u2')
    new = numpy_to_image(values.view(np.uint8).reshape(msg.height, -1), 'mono8')
    new.encoding, new.width, new.step, new.is_bigendian = msg.encoding, msg.width, msg.step, 1
    return new


def inbound_cases(width, height, rng):
    """Return [(label, function, message)] for one image size."""
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rgb = cv2.GaussianBlur(rgb, (9, 9), 3)  # camera-like, so JPEG/PNG sizes are realistic
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    depth_mm = rng.integers(300, 5000, (height, width), dtype=np.uint16)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    uyvy = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_UYVY)
    yuyv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_YUY2)
    bayer = np.zeros((height, width), np.uint8)
    for dy, dx, ch in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        bayer[dy::2, dx::2] = rgb[dy::2, dx::2, ch]
    depth16 = received(numpy_to_image(depth_mm, '16UC1'))
    jpeg = CompressedImage(format='rgb8; jpeg compressed bgr8',
                           data=cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
                           .tobytes())
    png = CompressedImage(format='bgr8; png compressed bgr8',
                          data=cv2.imencode('.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1]
                          .tobytes())
    return [
        ('rgb8 -> RGB (zero-copy view)', image_to_rgb, received(numpy_to_image(rgb, 'rgb8'))),
        ('rgb8 step+64 padding -> RGB view', image_to_rgb,
         received(padded(numpy_to_image(rgb, 'rgb8'), 64))),
        ('bgr8 -> RGB', image_to_rgb, received(numpy_to_image(bgr, 'bgr8'))),
        ('rgba8 -> RGB', image_to_rgb, received(numpy_to_image(rgba, 'rgba8'))),
        ('bgra8 -> RGB', image_to_rgb, received(numpy_to_image(bgra, 'bgra8'))),
        ('mono8 -> (H, W) view', lambda m: image_to_numpy(m)[0],
         received(numpy_to_image(gray, 'mono8'))),
        ('mono8 -> RGB (gray replicated)', image_to_rgb, received(numpy_to_image(gray, 'mono8'))),
        ('mono16 -> RGB (scaled)', image_to_rgb, received(numpy_to_image(depth_mm, 'mono16'))),
        ('16UC1 -> depth mm (view)', image_to_depth, depth16),
        ('16UC1 big-endian -> depth mm (swap)', image_to_depth, received(big_endian(depth16))),
        ('32FC1 -> depth m (view)', image_to_depth,
         received(numpy_to_image(depth_mm.astype(np.float32) / 1000, '32FC1'))),
        ('yuv422 (UYVY) -> RGB', image_to_rgb, received(numpy_to_image(uyvy, 'yuv422'))),
        ('yuv422_yuy2 (YUYV) -> RGB', image_to_rgb,
         received(numpy_to_image(yuyv, 'yuv422_yuy2'))),
        ('bayer_rggb8 -> RGB', image_to_rgb, received(numpy_to_image(bayer, 'bayer_rggb8'))),
        ('JPEG quality 90 -> RGB', image_to_rgb,
         received(jpeg, CompressedImage)),
        ('PNG level 1 -> RGB', image_to_rgb, received(png, CompressedImage)),
    ]


def outbound_cases(width, height, rng):
    """Return [(label, function)] for one image size."""
    mask = rng.integers(0, 12, (height, width), dtype=np.uint8)
    confidence = rng.random((height, width), dtype=np.float32)
    overlay = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    overlay_msg = numpy_to_image(overlay, 'rgb8')

    def tobytes_setter():
        msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
        msg.data = overlay.tobytes()
        return msg

    def array_setter_unchecked():
        msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
        data = array.array('B')
        data.frombytes(overlay.reshape(-1))
        msg.data = data
        return msg

    return [
        ('mono8 mask -> Image', lambda: numpy_to_image(mask, 'mono8')),
        ('32FC1 confidence -> Image', lambda: numpy_to_image(confidence, '32FC1')),
        ('rgb8 overlay -> Image (numpy_to_image)', lambda: numpy_to_image(overlay, 'rgb8')),
        ('  ref: Image(); data = arr.tobytes()', tobytes_setter),
        ('  ref: Image(); data = array.array', array_setter_unchecked),
        ('  ref: memcpy of the overlay (floor)', overlay.copy),
        ('  ref: serialize_message(rgb8 overlay)', lambda: serialize_message(overlay_msg)),
    ]


def main():
    """Run the benchmark and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=200, help='timed calls per case')
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    columns = {}
    for width, height in SIZES:
        for label, func, msg in inbound_cases(width, height, rng):
            columns.setdefault(('in', label), []).append(
                median_us(lambda f=func, m=msg: f(m), args.repeat))
        for label, func in outbound_cases(width, height, rng):
            columns.setdefault(('out', label), []).append(median_us(func, args.repeat))
    print(f'median microseconds per call, {args.repeat} calls; {platform.processor() or "cpu"}, '
          f'NumPy {np.__version__}, OpenCV {cv2.__version__}')
    header = f'{"":46s} {"640x480":>10s} {"1280x720":>10s}'
    for direction, title in (('in', 'inbound (message -> NumPy)'),
                             ('out', 'outbound (NumPy -> message)')):
        print(f'\n{title}\n{header}')
        for (kind, label), values in columns.items():
            if kind == direction:
                print(f'{label:46s} ' + ' '.join(f'{v:10.1f}' for v in values))


if __name__ == '__main__':
    main()
