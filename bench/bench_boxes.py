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

"""Benchmark of enet_ros.boxes.estimate_boxes: 20 boxes at 640x480 (target: 5 ms).

Run from the repository root::

    .venv/bin/python bench/bench_boxes.py [--repeats 200] [--threads N]

Prints median and 90th-percentile wall time per call over repeated runs of a ray-cast 4 x 5
carton layer at 1.5 m with RealSense-like uint16 depth, for several input combinations, next to a
naive per-box baseline (a Python loop: one mask, one ``cv2.undistortPoints`` call, one
least-squares plane and one ``cv2.minAreaRect`` per box) and the 5 ms target. The case "as the
node runs it" calls the estimator as ``enet_ros.ros.node`` does with its parameters' defaults (the
config from ``enet_ros.ros.params.box_config_kwargs``, the class ids with the box_boundary class,
depth and the colour image, no label image). The machine is
shared and noisy: compare medians, and look at the load averages printed before and after them.
"min" is the least disturbed run; "proc cpu" the median CPU time of this process per call (all
its threads: OpenCV's workers included), "thread cpu" that of the calling thread alone.
"""

import argparse
import os
import platform
import time

import cv2
from enet_ros.boxes import BoxEstimatorConfig, CameraModel, estimate_boxes
from enet_ros.boxes import synthetic as syn
from enet_ros.ros import params
import numpy as np

TARGET_MS = 5.0


def naive_boxes(mask: np.ndarray, depth_mm: np.ndarray, camera: CameraModel) -> list:
    """Straightforward baseline: per-box loop, no instance splitting beyond connectivity.

    Args:
        mask: (H, W) uint8 class ids (1 = box).
        depth_mm: (H, W) uint16 depth, millimetres.
        camera: The camera.

    Returns:
        One ``(centre (3,), normal (3,), (length, width))`` tuple per connected component.
    """
    n, labels = cv2.connectedComponents((mask == 1).astype(np.uint8), connectivity=4)
    out = []
    for i in range(1, n):
        v, u = np.nonzero(labels == i)
        z = depth_mm[v, u].astype(np.float64) / 1000.0
        ok = z > 0
        if ok.sum() < 3:
            continue
        uv = np.stack([u[ok], v[ok]], axis=1).astype(np.float64).reshape(-1, 1, 2)
        xy = cv2.undistortPoints(uv, camera.K, camera.D).reshape(-1, 2)
        pts = np.column_stack([xy * z[ok, None], z[ok]])
        centre = pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
        normal = vt[2] if vt[2] @ centre < 0 else -vt[2]
        e1 = np.cross(normal, [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(normal, e1)
        rect = cv2.minAreaRect(np.stack([(pts - centre) @ e1, (pts - centre) @ e2],
                                        axis=1).astype(np.float32))
        out.append((centre, normal, tuple(sorted(rect[1], reverse=True))))
    return out


def timeit(fn, repeats: int) -> tuple:
    """Time ``fn()``.

    Args:
        fn: The call to time.
        repeats: Timed calls (after 3 warm-up calls).

    Returns:
        Median, p90 and minimum wall time, median process CPU time and median thread CPU time,
        milliseconds.
    """
    for _ in range(3):
        fn()
    wall, cpu, thread = [], [], []
    for _ in range(repeats):
        t0, c0, h0 = time.perf_counter(), time.process_time(), time.thread_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        thread.append(time.thread_time() - h0)
    wall_ms = np.array(wall) * 1e3
    return (float(np.median(wall_ms)), float(np.percentile(wall_ms, 90)), float(wall_ms.min()),
            float(np.median(np.array(cpu) * 1e3)), float(np.median(np.array(thread) * 1e3)))


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=100, help='timed calls per case')
    parser.add_argument('--threads', type=int, default=None,
                        help='cv2.setNumThreads (default: OpenCV default)')
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    camera = CameraModel.pinhole(605.0, 605.0, 319.5, 239.5, 640, 480)
    boxes, floor = syn.pallet_scene(camera, rows=4, cols=5, distance_m=1.5, gap_m=0.02,
                                    yaw_jitter_deg=3.0, seed=1)
    scene = syn.render_scene(camera, boxes, floor, boundary_px=2, rim_m=0.002, seed=1)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    plain = np.where(scene.mask > 0, 1, 0).astype(np.uint8)
    no_labels = BoxEstimatorConfig(label_image=False)
    # The node's configuration, built as the node builds it from its parameters' defaults: the
    # model's class ids (box and box_boundary), depth and the colour image, no label image.
    defaults = {spec.name: spec.default for spec in params.PARAMS}
    node = BoxEstimatorConfig(**params.box_config_kwargs(defaults))

    cases = [
        ('depth, stride 2 (default)', lambda: estimate_boxes(plain, depth, camera), plain),
        ('depth + colour', lambda: estimate_boxes(plain, depth, camera, color=scene.color),
         plain),
        ('depth + boundary class', lambda: estimate_boxes(scene.mask, depth, camera),
         scene.mask),
        ('depth, no label image', lambda: estimate_boxes(plain, depth, camera, config=no_labels),
         plain),
        ('as the node runs it (its defaults)',
         lambda: estimate_boxes(scene.mask, depth, camera, color=scene.color, config=node),
         scene.mask),
        ('depth, no support-plane search',
         lambda: estimate_boxes(plain, depth, camera,
                                config=BoxEstimatorConfig(find_support_plane=False)), plain),
        ('depth, stride 3', lambda: estimate_boxes(
            plain, depth, camera, config=BoxEstimatorConfig(fit_stride=3)), plain),
        ('depth, stride 1 (all pixels)', lambda: estimate_boxes(
            plain, depth, camera, config=BoxEstimatorConfig(fit_stride=1)), plain),
        ('mask + boundary class, no depth (2D)',
         lambda: estimate_boxes(scene.mask, None, None), scene.mask),
        ('naive per-box baseline', lambda: naive_boxes(plain, depth, camera), plain),
    ]
    load = os.getloadavg()
    print(f'enet_ros.boxes benchmark: {len(boxes)} boxes, 640x480, {args.repeats} runs per case')
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, OpenCV '
          f'{cv2.__version__} threads={cv2.getNumThreads()}, numpy {np.__version__}, load '
          f'average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) before')
    print(f'{"case":38s} {"boxes":>5s} {"median ms":>10s} {"p90 ms":>8s} {"min ms":>7s} '
          f'{"proc cpu":>8s} {"thread cpu":>10s} {"target ms":>9s}')
    for name, fn, _ in cases:
        out = fn()
        med, p90, best, cpu, thread = timeit(fn, args.repeats)
        print(f'{name:38s} {len(out):5d} {med:10.2f} {p90:8.2f} {best:7.2f} {cpu:8.2f} '
              f'{thread:10.2f} {TARGET_MS:9.1f}')
    load = os.getloadavg()
    print(f'load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
