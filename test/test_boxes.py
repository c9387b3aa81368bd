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

"""Box pose estimator on ray-cast scenes with exact ground truth (enet_ros.boxes, no ROS)."""

import warnings

import cv2
from enet_ros.boxes import (BoxEstimatorConfig, CameraModel, estimate_boxes,
                            matrix_to_quaternion, quaternion_to_matrix)
from enet_ros.boxes import synthetic as syn
import numpy as np
import pytest

BOX = (0.255, 0.155, 0.10)


def _camera(width=640, height=480, f=600.0, d=None, model='plumb_bob'):
    k = np.array([[f, 0.0, (width - 1) / 2 + 3.0], [0.0, f * 1.002, (height - 1) / 2 - 2.0],
                  [0.0, 0.0, 1.0]])
    return CameraModel(K=k, D=np.zeros(0) if d is None else np.asarray(d), width=width,
                       height=height, distortion_model=model)


def _single_box_scene(camera, tilt=(0.0, 0.0), yaw=0.0, xy=(0.0, 0.0), distance=1.2,
                      size=BOX, seed=0):
    surface = syn.look_down_rotation(*tilt)
    origin = np.array([0.0, 0.0, distance])
    box = syn.make_box(surface, origin, xy, yaw, size)
    normal = surface[:, 2]
    floor = np.concatenate([normal, [-float(normal @ origin)]])
    return syn.render_scene(camera, [box], floor, rim_m=0.002, seed=seed)


def _match(result, scene):
    """Pair each estimated box with the ground-truth box it mostly covers."""
    pairs = []
    for box in result:
        ids = scene.instance[result.labels == box.instance_id]
        gt = int(np.bincount(ids).argmax()) - 1
        pairs.append((box, scene.boxes[gt] if gt >= 0 else None))
    return pairs


def _errors(box, gt):
    """Centre (m), size (m, length and width), normal (deg) and yaw (deg, mod 180) errors."""
    centre = float(np.linalg.norm(box.position_m - gt.centre_m))
    size = np.abs(box.size_m[:2] - gt.size_m[:2])
    normal = np.degrees(np.arccos(np.clip(box.normal @ gt.rotation[:, 2], -1.0, 1.0)))
    x_est = box.rotation_matrix[:, 0]
    yaw = np.degrees(np.arccos(np.clip(abs(x_est @ gt.rotation[:, 0]), -1.0, 1.0)))
    return centre, size, normal, yaw


# --------------------------------------------------------------------------------------------
# Camera model


def test_camera_validation():
    k = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    with pytest.raises(ValueError, match='equidistant'):
        CameraModel(K=k, D=np.array([0.1, 0, 0, 0]), width=640, height=480,
                    distortion_model='equidistant')
    with pytest.raises(ValueError, match='coefficients'):
        CameraModel(K=k, D=np.array([0.1, 0.0, 0.0]), width=640, height=480)
    with pytest.raises(ValueError, match='3x3'):
        CameraModel(K=np.eye(2), D=np.zeros(5), width=640, height=480)
    with pytest.raises(ValueError, match='positive'):
        CameraModel(K=k, D=np.zeros(5), width=0, height=480)
    with pytest.raises(ValueError, match='D must hold finite numbers'):
        CameraModel(K=k, D=np.array([np.nan, 0, 0, 0, 0]), width=640, height=480)
    with pytest.raises(ValueError, match='width must be a whole number of pixels, got 160.7'):
        CameraModel(K=k, D=np.zeros(5), width=160.7, height=120)
    assert CameraModel(K=k, D=np.zeros(5), width=640.0, height=np.int64(480)).size == (640, 480)
    cam = CameraModel(K=k, D=np.zeros(5), width=640, height=480)
    assert not cam.has_distortion
    assert cam.K.dtype == np.float64 and cam.D.dtype == np.float64


def test_camera_scaled_to_keeps_pixel_centre_convention():
    k = np.array([[1000.0, 0.0, 639.5], [0.0, 1000.0, 479.5], [0.0, 0.0, 1.0]])
    cam = CameraModel(K=k, D=np.array([0.1, -0.05, 0.001, 0.002, 0.0]), width=1280, height=960)
    half = cam.scaled_to(640, 480)
    np.testing.assert_allclose(half.K, [[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0, 0, 1]])
    np.testing.assert_array_equal(half.D, cam.D)
    assert cam.scaled_to(1280, 960) is cam
    # The same point seen at both resolutions lands on the same relative position.
    pt = np.array([[0.1, -0.05, 1.3]])
    uv_full, uv_half = cam.project(pt)[0], half.project(pt)[0]
    np.testing.assert_allclose((uv_half + 0.5) * 2.0 - 0.5, uv_full, atol=1e-9)
    with pytest.raises(ValueError, match='1280x960.*1280x720'):
        cam.scaled_to(1280, 720)


@pytest.mark.parametrize('model,d', [
    ('plumb_bob', [-0.28, 0.09, 0.0008, -0.0005, -0.012]),
    ('rational_polynomial', [0.35, -0.12, 0.0006, 0.0004, 0.01, 0.7, -0.1, 0.03]),
])
def test_pixel_rays_match_an_independent_inversion(model, d):
    cam = _camera(160, 120, f=150.0, d=d, model=model)
    rays = cam.pixel_rays().astype(np.float64)
    reference = syn.pixel_rays_reference(cam)
    np.testing.assert_allclose(rays, reference, atol=2e-6)
    # And projecting the rays gives back the pixel centres.
    pts = np.concatenate([reference.reshape(-1, 2), np.ones((160 * 120, 1))], axis=1)
    v, u = np.mgrid[0:120, 0:160]
    uv = cam.project(pts)
    np.testing.assert_allclose(uv, np.stack([u.ravel(), v.ravel()], axis=1), atol=1e-4)


# --------------------------------------------------------------------------------------------
# Geometry on single boxes with known answers


@pytest.mark.parametrize('tilt', [(0.0, 0.0), (18.0, -7.0), (-12.0, 25.0)])
def test_tilted_plane(tilt):
    cam = _camera()
    scene = _single_box_scene(cam, tilt=tilt, yaw=12.0)
    result = estimate_boxes(scene.mask, scene.depth_m, cam)
    assert len(result) == 1
    box, gt = _match(result, scene)[0]
    centre, size, normal, yaw = _errors(box, gt)
    assert normal < 0.2
    assert centre < 0.003
    assert np.all(size < 0.004)
    assert yaw < 0.5
    assert box.normal[2] < 0                         # towards the camera (it looks down)
    assert float(box.normal @ box.position_m) < 0
    assert abs(box.size_m[2] - BOX[2]) < 0.003       # the floor is the support plane


@pytest.mark.parametrize('yaw', [0.0, 30.0, 89.0, 135.0])
def test_rotated_rectangle_and_pose_convention(yaw):
    cam = _camera()
    scene = _single_box_scene(cam, tilt=(5.0, 3.0), yaw=yaw, xy=(0.05, -0.03))
    result = estimate_boxes(scene.mask, scene.depth_m, cam)
    box, gt = _match(result, scene)[0]
    centre, size, normal, yaw_err = _errors(box, gt)
    assert yaw_err < 0.5 and centre < 0.003 and normal < 0.2
    rot = box.rotation_matrix
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-9)
    assert np.linalg.det(rot) > 0.999                # right-handed
    np.testing.assert_allclose(rot[:, 2], box.normal, atol=1e-9)
    assert rot[0, 0] + rot[1, 0] >= 0                # the 180-degree rule
    assert box.size_m[0] >= box.size_m[1]
    # The corners are the projected top-face corners, in the documented order.
    half = 0.5 * gt.size_m
    x_gt = gt.rotation[:, 0] * np.sign(gt.rotation[:, 0] @ rot[:, 0])
    y_gt = np.cross(gt.rotation[:, 2], x_gt)
    exp = [gt.centre_m + sx * half[0] * x_gt + sy * half[1] * y_gt
           for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    np.testing.assert_allclose(box.corners_px, cam.project(np.array(exp)), atol=1.5)
    assert box.corners_px.dtype == np.float32 and box.corners_px.shape == (4, 2)


def test_quaternion_helpers_round_trip():
    rng = np.random.default_rng(3)
    q = rng.normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 3] < 0] *= -1
    rot = quaternion_to_matrix(q)
    np.testing.assert_allclose(matrix_to_quaternion(rot), q, atol=1e-9)
    np.testing.assert_allclose(matrix_to_quaternion(np.eye(3)), [0, 0, 0, 1])


def test_millimetres_and_metres_give_the_same_pose():
    cam = _camera()
    scene = _single_box_scene(cam, tilt=(8.0, -4.0), yaw=20.0)
    mm = syn.realsense_depth(scene.depth_m, np.random.default_rng(1), as_uint16=True)
    metres = np.where(mm > 0, mm.astype(np.float32) / np.float32(1000.0), np.nan)
    a = estimate_boxes(scene.mask, mm, cam)[0]
    b = estimate_boxes(scene.mask, metres.astype(np.float32), cam)[0]
    c = estimate_boxes(scene.mask, metres.astype(np.float64), cam)[0]
    for other in (b, c):
        np.testing.assert_allclose(other.position_m, a.position_m, atol=1e-6)
        np.testing.assert_allclose(other.quaternion_xyzw, a.quaternion_xyzw, atol=1e-6)
        np.testing.assert_allclose(other.size_m, a.size_m, atol=1e-6)
    _, size, normal, _ = _errors(a, _match(estimate_boxes(scene.mask, mm, cam), scene)[0][1])
    assert normal < 1.0 and np.all(size < 0.005)


@pytest.mark.parametrize('encoding', ['nan', 'zero_float', 'zero_uint16'])
def test_depth_holes(encoding):
    cam = _camera()
    scene = _single_box_scene(cam, tilt=(6.0, 2.0), yaw=-15.0)
    rng = np.random.default_rng(2)
    depth = scene.depth_m.copy()
    holes = rng.random(depth.shape) < 0.25
    # and a large blob without data in the middle of the top face
    cv2.circle(holes.view(np.uint8), tuple(int(c) for c in
                                           cam.project(scene.boxes[0].centre_m[None])[0]), 15, 1,
               -1)
    if encoding == 'nan':
        depth[holes] = np.nan
    elif encoding == 'zero_float':
        depth[holes] = 0.0
    else:
        depth = np.where(holes | np.isnan(depth), 0, np.round(depth * 1000)).astype(np.uint16)
    result = estimate_boxes(scene.mask, depth, cam)
    assert len(result) == 1
    box, gt = _match(result, scene)[0]
    centre, size, normal, yaw = _errors(box, gt)
    assert centre < 0.004 and np.all(size < 0.005) and normal < 0.5 and yaw < 1.0
    assert 0.6 < box.valid_depth_ratio < 0.8


def test_distortion_is_honoured():
    d = [-0.3, 0.1, 0.0, 0.0, -0.02]
    cam = _camera(d=d)
    scene = _single_box_scene(cam, yaw=25.0, xy=(0.28, 0.18), distance=1.0)  # off-centre
    depth = scene.depth_m
    good = estimate_boxes(scene.mask, depth, cam)
    box, gt = _match(good, scene)[0]
    centre, size, normal, yaw = _errors(box, gt)
    assert centre < 0.004 and np.all(size < 0.005) and normal < 0.5 and yaw < 0.5
    # The same data read as if there were no distortion is clearly wrong.
    pinhole = CameraModel(K=cam.K, D=np.zeros(5), width=cam.width, height=cam.height)
    bad = estimate_boxes(scene.mask, depth, pinhole)
    centre_bad, size_bad, normal_bad, _ = _errors(bad[0], gt)
    assert centre_bad > 0.015 or normal_bad > 3.0 or np.any(size_bad > 0.01)


def test_row_column_order_on_a_non_square_image():
    cam = _camera(width=400, height=240, f=300.0)
    # Box to the right of and above the optical axis: camera x > 0, y < 0.
    scene = _single_box_scene(cam, xy=(0.25, 0.12), distance=1.2, yaw=0.0)
    result = estimate_boxes(scene.mask, scene.depth_m, cam)
    box = result[0]
    assert box.position_m[0] > 0.15 and box.position_m[1] < -0.05
    u, v = box.corners_px.mean(axis=0)
    assert u > cam.K[0, 2] + 50 and v < cam.K[1, 2] - 20
    ys, xs = np.nonzero(result.labels == box.instance_id)
    assert abs(xs.mean() - u) < 3 and abs(ys.mean() - v) < 3
    assert result.labels.shape == (240, 400) and result.labels.dtype == np.int32
    # A transposed image does not fit the camera and is refused.
    with pytest.raises(ValueError, match='400x240'):
        estimate_boxes(scene.mask.T, scene.depth_m.T, cam)


def test_resolution_mismatched_camera_info_is_scaled_or_rejected():
    cam = _camera()
    scene = _single_box_scene(cam, tilt=(4.0, 4.0), yaw=10.0)
    ref = estimate_boxes(scene.mask, scene.depth_m, cam)[0]
    k2 = cam.K.copy()
    k2[:2, :2] *= 2.0
    k2[:2, 2] = (cam.K[:2, 2] + 0.5) * 2.0 - 0.5
    big = CameraModel(K=k2, D=cam.D, width=1280, height=960)
    scaled = estimate_boxes(scene.mask, scene.depth_m, big)
    np.testing.assert_allclose(scaled[0].position_m, ref.position_m, atol=1e-6)
    np.testing.assert_allclose(scaled.camera.K, cam.K, atol=1e-9)
    wide = CameraModel(K=k2, D=cam.D, width=1280, height=720)
    with pytest.raises(ValueError, match='1280x720.*640x480'):
        estimate_boxes(scene.mask, scene.depth_m, wide)


# --------------------------------------------------------------------------------------------
# Accuracy on pallet-like scenes with RealSense-like depth


@pytest.mark.parametrize('stride', [2, 1])
def test_accuracy_realsense_like_noise(stride):
    cam = _camera(f=605.0)
    cfg = BoxEstimatorConfig(fit_stride=stride)
    centre, size, normal, yaw, height, n_found, n_gt = [], [], [], [], [], 0, 0
    for seed, (dist, tilt) in enumerate([(1.3, (4.0, -3.0)), (1.5, (-6.0, 5.0)),
                                         (1.2, (10.0, 2.0))]):
        boxes, floor = syn.pallet_scene(cam, rows=3, cols=4, distance_m=dist, gap_m=0.025,
                                        tilt_deg=tilt, yaw_jitter_deg=4.0, seed=seed)
        scene = syn.render_scene(cam, boxes, floor, rim_m=0.002, seed=seed)
        depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(seed + 10))
        result = estimate_boxes(scene.mask, depth, cam, config=cfg)
        n_found += len(result)
        n_gt += len(boxes)
        for box, gt in _match(result, scene):
            c, s, n, y = _errors(box, gt)
            centre.append(c)
            size.extend(s)
            normal.append(n)
            yaw.append(y)
            height.append(abs(box.size_m[2] - gt.size_m[2]))
    assert n_found == n_gt
    assert np.median(centre) <= 0.005 and np.max(centre) < 0.01
    assert np.median(size) <= 0.005
    assert np.median(normal) <= 1.0
    assert np.median(yaw) <= 2.0
    assert np.median(height) <= 0.005


def test_deterministic_with_seed():
    cam = _camera()
    boxes, floor = syn.pallet_scene(cam, rows=2, cols=2, distance_m=1.3, gap_m=0.03, seed=4)
    scene = syn.render_scene(cam, boxes, floor)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    a = estimate_boxes(scene.mask, depth, cam)
    b = estimate_boxes(scene.mask, depth, cam)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.position_m, y.position_m)
        np.testing.assert_array_equal(x.quaternion_xyzw, y.quaternion_xyzw)
    np.testing.assert_array_equal(a.labels, b.labels)


# --------------------------------------------------------------------------------------------
# Touching boxes


def _touching_scene(cam, heights=(0.1, 0.1, 0.1, 0.1), boundary_px=0, rim_m=0.0):
    surface = syn.look_down_rotation(3.0, -2.0)
    origin = np.array([0.0, 0.0, 1.3])
    boxes = []
    for i, (dx, dy) in enumerate([(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]):
        boxes.append(syn.make_box(surface, origin, (dx * BOX[0], dy * BOX[1]), 0.0,
                                  (BOX[0], BOX[1], heights[i])))
    normal = surface[:, 2]
    floor = np.concatenate([normal, [-float(normal @ origin)]])
    return syn.render_scene(cam, boxes, floor, boundary_px=boundary_px, rim_m=rim_m)


def _instance_ious(result, scene):
    ious = []
    for i in range(len(scene.boxes)):
        gt = scene.instance == i + 1
        best = max(((result.labels == b.instance_id) & gt).sum()
                   / ((result.labels == b.instance_id) | gt).sum() for b in result)
        ious.append(best)
    return np.array(ious)


def test_touching_boxes_split_by_boundary_class():
    cam = _camera()
    scene = _touching_scene(cam, boundary_px=2)
    assert (scene.mask == 2).any()
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    result = estimate_boxes(scene.mask, depth, cam)
    assert len(result) == 4
    assert np.all(_instance_ious(result, scene) > 0.85)
    for box, gt in _match(result, scene):
        c, s, n, y = _errors(box, gt)
        assert c < 0.006 and np.all(s < 0.008) and n < 1.5 and y < 1.5


def test_touching_boxes_split_by_colour_slits():
    cam = _camera()
    scene = _touching_scene(cam, rim_m=0.002)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    fg = scene.mask > 0
    assert cv2.connectedComponents(fg.view(np.uint8))[0] == 2   # one blob
    result = estimate_boxes(fg, depth, cam, color=scene.color)
    assert len(result) == 4
    assert np.all(_instance_ious(result, scene) > 0.9)
    for box, gt in _match(result, scene):
        c, s, n, y = _errors(box, gt)
        assert c < 0.005 and np.all(s < 0.006) and n < 1.0 and y < 1.0


def test_touching_boxes_split_by_depth_steps():
    cam = _camera()
    scene = _touching_scene(cam, heights=(0.10, 0.14, 0.17, 0.12))
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    result = estimate_boxes(scene.mask > 0, depth, cam)
    assert len(result) == 4
    assert np.all(_instance_ious(result, scene) > 0.8)


def test_touching_boxes_without_any_cue_stay_one_instance():
    # The documented limit: same height, no slit, no boundary class.
    cam = _camera()
    scene = _touching_scene(cam)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(0))
    result = estimate_boxes(scene.mask > 0, depth, cam, color=scene.color)
    assert len(result) == 1
    assert result[0].size_m[0] == pytest.approx(2 * BOX[0], abs=0.01)


def test_cable_across_a_box_does_not_split_it():
    cam = _camera()
    scene = _single_box_scene(cam, yaw=5.0)
    color = scene.color.copy()
    u, v = cam.project(scene.boxes[0].centre_m[None])[0]
    # A dark curve from one long edge to the other: two non-rectangular parts.
    pts = np.array([[u - 120 + t, v - 50 + 0.004 * t * t] for t in range(0, 200, 4)], np.int32)
    cv2.polylines(color, [pts], False, (20, 20, 20), 2)
    result = estimate_boxes(scene.mask, scene.depth_m, cam, color=color)
    assert len(result) == 1
    box, gt = _match(result, scene)[0]
    c, s, n, y = _errors(box, gt)
    assert c < 0.004 and np.all(s < 0.005)


# --------------------------------------------------------------------------------------------
# Without depth


def test_without_depth_gives_image_rectangles():
    cam = _camera()
    scene = _single_box_scene(cam, yaw=30.0)
    result = estimate_boxes(scene.mask, None, cam)
    box = result[0]
    assert not box.has_pose
    assert np.all(np.isnan(box.position_m)) and np.all(np.isnan(box.size_m))
    gt = scene.boxes[0]
    half = 0.5 * gt.size_m
    corners = [gt.centre_m + sx * half[0] * gt.rotation[:, 0] + sy * half[1] * gt.rotation[:, 1]
               for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    exp = cam.project(np.array(corners))
    # Same quadrilateral, up to the corner order's starting point.
    d = [np.abs(np.roll(box.corners_px, k, axis=0) - exp).max() for k in range(4)]
    assert min(d) < 2.0
    assert 0.9 < box.score <= 1.0
    # No camera is needed for the 2D result.
    assert len(estimate_boxes(scene.mask, None, None)) == 1


def test_without_depth_on_a_working_plane():
    cam = _camera()
    scene = _single_box_scene(cam, tilt=(6.0, -3.0), yaw=-20.0)
    gt = scene.boxes[0]
    n = gt.rotation[:, 2]
    plane = (n[0], n[1], n[2], -float(n @ gt.centre_m))
    floor = tuple(scene.floor)
    cfg = BoxEstimatorConfig(working_plane=plane, support_plane=floor)
    box = estimate_boxes(scene.mask, None, cam, config=cfg)[0]
    c, s, nerr, y = _errors(box, gt)
    assert c < 0.003 and np.all(s < 0.004) and nerr < 1e-6 and y < 0.5
    assert box.size_m[2] == pytest.approx(gt.size_m[2], abs=1e-6)


# --------------------------------------------------------------------------------------------
# Inputs


def test_input_validation():
    cam = _camera(64, 48, f=60.0)
    mask = np.zeros((48, 64), np.uint8)
    depth = np.ones((48, 64), np.float32)
    with pytest.raises(ValueError, match='integer class ids or bool'):
        estimate_boxes(mask.astype(np.float32), depth, cam)
    with pytest.raises(ValueError, match='dtype int32'):
        estimate_boxes(mask, depth.astype(np.int32), cam)
    with pytest.raises(ValueError, match='shape'):
        estimate_boxes(mask, depth[:, :60], cam)
    with pytest.raises(ValueError, match='camera'):
        estimate_boxes(mask, depth, None)
    with pytest.raises(ValueError, match='color'):
        estimate_boxes(mask, depth, cam, color=np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ValueError, match='min_pixels'):
        BoxEstimatorConfig(min_pixels=0)
    with pytest.raises(ValueError, match='both box and boundary'):
        BoxEstimatorConfig(box_class_ids=(1, 2))
    with pytest.raises(ValueError, match='working_plane'):
        BoxEstimatorConfig(working_plane=(0.0, 0.0, 0.0, 1.0))
    empty = estimate_boxes(mask, depth, cam)
    assert len(empty) == 0 and empty.labels.shape == (48, 64) and not empty.labels.any()


@pytest.mark.parametrize('height, width', [(1, 1), (4, 1), (1, 4)])
def test_tiny_images_work(height, width):
    cam = CameraModel.pinhole(1.0, 1.0, (width - 1) / 2, (height - 1) / 2, width, height)
    mask = np.ones((height, width), np.uint8)
    depth = np.full((height, width), 800, np.uint16)
    result = estimate_boxes(mask, depth, cam)
    assert len(result) == 0 and result.labels.shape == (height, width)
    tiny = BoxEstimatorConfig(min_pixels=1, min_seed_pixels=1, fit_stride=1)
    result = estimate_boxes(mask, depth, cam, config=tiny)
    assert len(result) == 1 and (result.labels == 1).all()


def test_empty_mask_has_no_boxes_with_or_without_a_camera():
    empty = np.zeros((0, 0), np.uint8)
    cam = _camera(64, 48, f=60.0)
    for result in (estimate_boxes(empty), estimate_boxes(empty, np.zeros((0, 0), np.uint16), cam)):
        assert len(result) == 0 and result.labels.shape == (0, 0)


def test_camera_and_config_of_the_wrong_type_are_named():
    mask = np.zeros((48, 64), np.uint8)
    with pytest.raises(TypeError, match='camera must be a CameraModel .or None., got dict'):
        estimate_boxes(mask, None, {'K': np.eye(3)})
    with pytest.raises(TypeError, match='config must be a BoxEstimatorConfig.*got dict'):
        estimate_boxes(mask, None, None, config={'a': 1})


def test_float_depth_in_millimetres_is_refused():
    cam = _camera(64, 48, f=60.0)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 10:50] = 1
    depth_m = np.full((48, 64), 1.0, np.float32)
    depth_m[10:40, 10:50] = 0.8
    with pytest.raises(ValueError, match=r'median valid value is 1000 m: it looks like '
                                         r'millimetres. Divide it by 1000'):
        estimate_boxes(mask, depth_m * 1000.0, cam)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # metres: no warning, no error
        result = estimate_boxes(mask, depth_m, cam)
    assert len(result) == 1 and abs(result[0].position_m[2] - 0.8) < 0.01


def test_box_class_ids_are_configurable():
    cam = _camera()
    scene = _single_box_scene(cam)
    mask = np.where(scene.mask > 0, 7, 3).astype(np.int32)
    assert len(estimate_boxes(mask, scene.depth_m, cam)) == 0
    cfg = BoxEstimatorConfig(box_class_ids=(7,), boundary_class_ids=())
    assert len(estimate_boxes(mask, scene.depth_m, cam, config=cfg)) == 1


def test_label_image_can_be_skipped_without_changing_the_boxes():
    cam = _camera()
    boxes, floor = syn.pallet_scene(cam, rows=2, cols=3, distance_m=1.3, gap_m=0.03, seed=6)
    scene = syn.render_scene(cam, boxes, floor, rim_m=0.002, seed=6)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(6))
    full = estimate_boxes(scene.mask, depth, cam, color=scene.color)
    lean = estimate_boxes(scene.mask, depth, cam, color=scene.color,
                          config=BoxEstimatorConfig(label_image=False))
    assert lean.labels is None and full.labels.shape == (480, 640) and len(full) == 6
    for a, b in zip(full, lean):
        np.testing.assert_array_equal(a.position_m, b.position_m)
        np.testing.assert_array_equal(a.quaternion_xyzw, b.quaternion_xyzw)
        np.testing.assert_array_equal(a.size_m, b.size_m)
        assert a.pixel_count == b.pixel_count and a.score == b.score


def test_matrix_to_quaternion_half_turns():
    # Each of Shepperd's pivots: identity (trace) and the half turns about x, y and z.
    for diag, expected in [((1, 1, 1), (0, 0, 0, 1)), ((1, -1, -1), (1, 0, 0, 0)),
                           ((-1, 1, -1), (0, 1, 0, 0)), ((-1, -1, 1), (0, 0, 1, 0))]:
        np.testing.assert_allclose(matrix_to_quaternion(np.diag(diag).astype(float)), expected,
                                   atol=1e-12)


def test_pinhole_projection_and_grid_rays_agree_with_opencv():
    cam = _camera()
    pts = np.array([[0.1, -0.2, 1.3], [-0.4, 0.3, 2.0], [0.0, 0.0, 0.5]])
    expected, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), cam.K, np.zeros(5))
    np.testing.assert_allclose(cam.project(pts), expected.reshape(-1, 2), atol=1e-9)
    rx, ry = cam.grid_rays(3)
    rays = cam.pixel_rays()[::3, ::3]
    np.testing.assert_array_equal(rx, rays[:, :, 0])
    np.testing.assert_array_equal(ry, rays[:, :, 1])
    assert rx.flags.c_contiguous and not rx.flags.writeable


def test_depth_step_threshold_grows_with_the_stereo_noise():
    """A flat surface at 2.6 m with RealSense-like noise is not cut; a 2 cm step at 1.5 m is."""
    from enet_ros.boxes.instances import depth_step_cut
    cfg = BoxEstimatorConfig()
    flat = syn.realsense_depth(np.full((120, 160), 2.6, np.float32), np.random.default_rng(3),
                               dropout=0.0, as_uint16=False)
    args = (cfg.depth_step_window_px, cfg.depth_step_ratio, cfg.depth_step_min_m)
    assert depth_step_cut(flat, *args, per_m2=0.0).mean() > 0.2   # the old rule: noise = steps
    assert depth_step_cut(flat, *args, per_m2=cfg.depth_step_per_m2).mean() < 0.01
    step = np.full((120, 160), 1.5, np.float32)
    step[:, 80:] = 1.48
    cut = depth_step_cut(step, *args, per_m2=cfg.depth_step_per_m2)
    assert cut[:, 78:82].all() and not cut[:, :70].any() and not cut[:, 90:].any()


def _reference_segmentation(fg, cut, depth_m, window, ratio, min_step, per_m2, min_seed,
                            max_grow, min_pixels):
    """Segment instances plainly (whole image, one ring per loop, NumPy only).

    The same method as enet_ros.boxes.instances (cut pixels = boundary/colour cuts or depth steps,
    dilated by a 3x3 cross; seeds = 4-connected components of the remaining box pixels; each
    unlabelled box pixel takes the largest label among its 8 neighbours, ring by ring), without
    any of its speed-ups, to check them against.
    """
    h, w = fg.shape
    pad = window // 2
    z = np.pad(depth_m.astype(np.float64), pad, constant_values=0.0)
    win = np.lib.stride_tricks.sliding_window_view(z, (window, window))
    far = win.max(axis=(2, 3))
    near = np.where(win > 0, win, np.inf).min(axis=(2, 3))
    d = depth_m.astype(np.float64)
    thr = np.maximum(np.maximum(ratio * d, min_step), per_m2 * d ** 2)
    cuts = ((far - near) > thr) & (depth_m > 0)
    if cut is not None:
        cuts |= cut
    c = np.pad(cuts, 1)
    cuts = c[1:-1, 1:-1] | c[:-2, 1:-1] | c[2:, 1:-1] | c[1:-1, :-2] | c[1:-1, 2:]
    n_cc, cc = cv2.connectedComponents((fg & ~cuts).astype(np.uint8), connectivity=4)
    sizes = np.bincount(cc.ravel(), minlength=n_cc)
    keep = np.flatnonzero(sizes >= min_seed)
    keep = keep[keep > 0]
    lut = np.zeros(n_cc, np.int64)
    lut[keep] = np.arange(1, len(keep) + 1)
    labels = lut[cc]
    for _ in range(max_grow):
        todo = fg & (labels == 0)
        p = np.pad(labels, 1)
        grown = np.max([p[1 + dy:h + 1 + dy, 1 + dx:w + 1 + dx]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        new = todo & (grown > 0)
        if not new.any():
            break
        labels[new] = grown[new]
    sizes = np.bincount(labels.ravel(), minlength=len(keep) + 1)
    kept = np.flatnonzero(sizes >= min_pixels)
    kept = kept[kept > 0]
    lut = np.zeros(len(keep) + 1, np.int64)
    lut[kept] = np.arange(1, len(kept) + 1)
    return lut[labels], sizes[kept]


@pytest.mark.parametrize('seed', range(12))
def test_instance_segmentation_matches_a_plain_reference(seed):
    """The optimised segmentation labels exactly as the plain whole-image reference.

    (Speed-ups checked: bounding-rectangle crop, uint8/uint16 labels, shrinking growth
    rectangle, float32 thresholds.)
    """
    from enet_ros.boxes.instances import segment_instances
    rng = np.random.default_rng(seed)
    h, w = rng.integers(20, 90, size=2)
    fg = np.zeros((h, w), bool)
    # Rectangles of random size, some touching or overlapping; a few tiny specks.
    for _ in range(rng.integers(1, 12)):
        y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
        fg[y:y + rng.integers(2, 25), x:x + rng.integers(2, 25)] = True
    fg |= rng.random((h, w)) < 0.01
    depth = np.where(rng.random((h, w)) < 0.05, 0.0,
                     1.5 + 0.03 * (rng.random((h, w)) < 0.3)).astype(np.float32)
    depth = np.round(depth, 3)                              # millimetre steps, as from 16UC1
    cut = (rng.random((h, w)) < 0.03) if seed % 2 else None
    args = {'depth_step_window_px': 3, 'depth_step_ratio': 0.01, 'depth_step_min_m': 0.01,
            'depth_step_per_m2': 0.006, 'min_seed_pixels': 3, 'max_grow_px': 6, 'min_pixels': 4}
    labels, sizes = segment_instances(fg, cut=cut, depth_m=depth, **args)
    ref_labels, ref_sizes = _reference_segmentation(
        fg, cut, depth, 3, 0.01, 0.01, 0.006, 3, 6, 4)
    assert labels.dtype == np.uint16 and labels.shape == fg.shape
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(sizes, ref_sizes)


def test_instance_segmentation_with_more_than_255_instances():
    """Over 255 seeds: the uint16 label path (uint8 is used below that) keeps every instance."""
    from enet_ros.boxes.instances import segment_instances
    fg = np.zeros((100, 120), bool)
    fg[1::4, 1::4] = True                                    # 25 x 30 = 750 separate specks
    fg[2::4, 1::4] = True
    labels, sizes = segment_instances(fg, min_seed_pixels=1, max_grow_px=2, min_pixels=1)
    assert labels.dtype == np.uint16 and labels.max() == 750 and len(sizes) == 750
    assert (sizes == 2).all()
    assert (np.bincount(labels.ravel())[1:] == 2).all()
    # Raster order of the seeds: the first speck in the top-left corner is 1, the last is 750.
    assert labels[1, 1] == 1 and labels[97, 117] == 750


def test_speckle_beyond_65535_pieces_is_dropped_not_a_crash():
    """A checkerboard of 153600 one-pixel pieces gives no box, or a message naming the option.

    All the pieces are below the default min_seed_pixels; with min_seed_pixels 1 there are
    too many seeds, and the error says which option to raise.
    """
    board = np.indices((480, 640)).sum(axis=0) % 2 == 0
    assert len(estimate_boxes(board, config=BoxEstimatorConfig(fit_stride=1))) == 0
    with pytest.raises(ValueError, match='min_seed_pixels'):
        estimate_boxes(board, config=BoxEstimatorConfig(fit_stride=1, min_seed_pixels=1,
                                                        min_pixels=1))


@pytest.mark.parametrize('stride', [2, 3, 5])
@pytest.mark.parametrize('shape', [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 3), (2, 5), (5, 2)])
def test_grids_of_a_single_point_give_a_label_image(shape, stride):
    cfg = BoxEstimatorConfig(fit_stride=stride, min_pixels=1, min_seed_pixels=1)
    result = estimate_boxes(np.ones(shape, bool), config=cfg)
    assert len(result) == 1 and result.labels.shape == shape and (result.labels == 1).all()


def test_an_instance_one_grid_row_high_gets_image_corners():
    """A 2-pixel-high strip (one grid row at stride 2) and its transpose: finite rectangles."""
    mask = np.zeros((480, 640), np.uint8)
    mask[100:102, 100:400] = 1
    for m, expected in ((mask, [[99.5, 101.5], [399.5, 101.5], [399.5, 99.5], [99.5, 99.5]]),
                        (mask.T.copy(), [[99.5, 99.5], [99.5, 399.5], [101.5, 399.5],
                                         [101.5, 99.5]])):
        box = estimate_boxes(m)[0]
        np.testing.assert_allclose(box.corners_px, expected, atol=1e-4)
        assert box.score == pytest.approx(1.0)


def test_an_infinite_colour_line_threshold_finds_no_line():
    cam = _camera()
    boxes, floor = syn.pallet_scene(cam, rows=2, cols=2, distance_m=1.4, gap_m=0.0,
                                    yaw_jitter_deg=0.0, seed=4)
    scene = syn.render_scene(cam, boxes, floor, boundary_px=0, rim_m=0.002, seed=4)
    plain = (scene.mask > 0).astype(np.uint8)
    no_colour = estimate_boxes(plain, scene.depth_m, cam)
    for threshold in (255.0, 1e10, float('inf')):
        cfg = BoxEstimatorConfig(color_line_threshold=threshold)
        result = estimate_boxes(plain, scene.depth_m, cam, color=scene.color, config=cfg)
        np.testing.assert_array_equal(result.labels, no_colour.labels)


@pytest.mark.parametrize('plane', [(0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 1.0, 1.3),
                                   (1.0, 0.0, 0.0, 0.05), (0.0, 0.0, -1.0, 0.001)])
@pytest.mark.parametrize('name', ['working_plane', 'support_plane'])
def test_planes_through_or_behind_the_camera_are_refused(name, plane):
    with pytest.raises(ValueError, match=f'{name}.*optical axis in front'):
        BoxEstimatorConfig(**{name: plane})


def test_a_steep_working_plane_gives_poses_only_where_the_rays_meet_it():
    """Rays that meet the plane behind the camera get no metric pose (2D rectangle only)."""
    cam = _camera(160, 120, f=100.0)
    mask = np.zeros((120, 160), np.uint8)
    mask[10:40, 10:40] = 1                                  # upper left: rays y < 0
    mask[80:110, 110:150] = 1                               # lower right: rays y > 0
    # The plane y = 0.5 z - 0.3 ... meets the optical axis at z = 0.6 in front; rays with
    # y/z < 0.5 meet it in front, y/z > 0.5 never: the lower box is partly beyond the horizon.
    plane = np.array([0.0, 1.0, -0.5, 0.3])
    cfg = BoxEstimatorConfig(working_plane=tuple(plane), min_pixels=50)
    result = estimate_boxes(mask, None, cam, config=cfg)
    assert len(result) == 2
    up, low = sorted(result, key=lambda b: b.corners_px[:, 1].mean())
    assert up.has_pose and np.all(np.isfinite(up.position_m)) and up.position_m[2] > 0
    assert abs(plane[:3] @ up.position_m + plane[3]) < 1e-6
    rays_y = (np.array([80, 110]) - cam.K[1, 2]) / cam.K[1, 1]
    assert rays_y.max() > 0.5                               # the lower box crosses the horizon
    assert not low.has_pose and np.all(np.isfinite(low.corners_px))


@pytest.mark.parametrize('options, error, match', [
    ({'fit_stride': 2.5}, TypeError, 'fit_stride must be an integer'),
    ({'max_grow_px': float('inf')}, TypeError, 'max_grow_px must be an integer'),
    ({'seed': None}, TypeError, 'seed must be an integer'),
    ({'box_class_ids': '12'}, TypeError, 'box_class_ids must be a sequence'),
    ({'boundary_class_ids': (1.5,)}, TypeError, 'boundary_class_ids'),
    ({'find_support_plane': 'no'}, TypeError, 'find_support_plane must be True or False'),
    ({'fit_stride': True}, TypeError, 'fit_stride must be an integer'),
    ({'plane_threshold_m': float('nan')}, ValueError, 'plane_threshold_m=nan must be finite'),
    ({'extent_trim': '0.1'}, TypeError, 'extent_trim must be a number'),
])
def test_config_option_types_are_checked_by_name(options, error, match):
    with pytest.raises(error, match=match):
        BoxEstimatorConfig(**options)


def test_config_accepts_whole_floats_and_a_single_class_id():
    """ROS double parameters (2.0) and a bare class id are what a user may pass."""
    cfg = BoxEstimatorConfig(fit_stride=2.0, box_class_ids=1, seed=np.int64(3))
    assert cfg.fit_stride == 2 and isinstance(cfg.fit_stride, int)
    assert cfg.box_class_ids == (1,) and cfg.seed == 3


def test_colour_is_checked_even_when_colour_edges_are_off():
    mask = np.zeros((48, 64), np.uint8)
    with pytest.raises(ValueError, match='color'):
        estimate_boxes(mask, color='garbage', config=BoxEstimatorConfig(use_color_edges=False))
    with pytest.raises(ValueError, match='color'):
        estimate_boxes(mask, color=np.zeros((40, 64, 3), np.uint8),
                       config=BoxEstimatorConfig(use_color_edges=False))


@pytest.mark.parametrize('last_row', [[0.0, 0.0, 0.0], [1.0, 1.0, 5.0], [0.0, 0.0, 2.0]])
def test_camera_matrix_must_have_the_projective_last_row(last_row):
    k = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], last_row])
    with pytest.raises(ValueError, match=r'K\[2\] = \[0, 0, 1\]'):
        CameraModel(K=k, D=np.zeros(5), width=640, height=480)


@pytest.mark.parametrize('fx,fy,cx,cy,match', [
    (600.0, 600.0, 5000.0, 240.0, r'principal point \(cx, cy\) = \(5000, 240\) px lies outside'),
    (600.0, 600.0, 320.0, -4000.0, 'principal point'),
    (1e-9, 1e-9, 320.0, 240.0, r'field of view of 180 x 180 degrees'),
    (1e12, 600.0, 320.0, 240.0, r'field of view of 3.67e-08 x 43.6 degrees'),
    (1.2, 1.2, 320.0, 240.0, 'field of view'),   # fx in millimetres, not pixels
])
def test_implausible_intrinsics_are_refused(fx, fy, cx, cy, match):
    k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=match):
        CameraModel(K=k, D=np.zeros(5), width=640, height=480)


@pytest.mark.parametrize('fx,cx,cy', [(600.0, 0.0, 480.0), (600.0, 640.0, 0.0),
                                      (3.0, 320.0, 240.0), (250000.0, 319.5, 239.5)])
def test_intrinsics_at_the_plausible_limits_are_accepted(fx, cx, cy):
    k = np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]])
    camera = CameraModel(K=k, D=np.zeros(5), width=640, height=480)
    assert camera.K[0, 2] == cx and camera.K[0, 0] == fx


def test_merge_candidates_are_fitted_on_their_window_exactly_as_on_the_whole_grid():
    """The pair geometry of _merge_fragments on a cropped grid equals the whole-grid one."""
    from enet_ros.boxes import estimator as est
    cam = _camera()
    boxes, floor = syn.pallet_scene(cam, rows=2, cols=3, distance_m=1.5, gap_m=0.02,
                                    yaw_jitter_deg=3.0, seed=2)
    scene = syn.render_scene(cam, boxes, floor, boundary_px=2, rim_m=0.002, seed=2)
    depth = syn.realsense_depth(scene.depth_m, np.random.default_rng(2))
    cfg = BoxEstimatorConfig()
    grid = est._Grid(cam, 0, 0, 640, 480, cfg.fit_stride)
    frame = est._FrameData(grid, grid.take(depth))
    labels = grid.take(scene.instance).astype(np.int32)
    n = int(labels.max())
    bounds = est._instance_bounds(labels, n)
    for a, b in ((0, 1), (1, 4), (2, 5)):
        pair = ((labels == a + 1) | (labels == b + 1)).astype(np.int32)
        whole = est._metric_geometry(pair, frame, grid, cfg, 1)
        r0, c0 = np.minimum(bounds[a, :2], bounds[b, :2])
        r1, c1 = np.maximum(bounds[a, 2:], bounds[b, 2:])
        win = (slice(r0, r1), slice(c0, c1))
        ys, xs = np.nonzero(pair)
        assert (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1) == (r0, c0, r1, c1)
        part = est._metric_geometry(pair[win], frame.crop(*win), grid, cfg, 1)
        assert whole.ok[0] and part.ok[0]
        for field in ('centre', 'normal', 'sides', 'corners_px', 'fill', 'rms'):
            np.testing.assert_array_equal(getattr(part, field), getattr(whole, field))
