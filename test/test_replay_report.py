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

"""The replay report's math (pure): statistics, box matching, pose errors, mIoU, drawing."""

import io
import json
import math

from enet_ros.boxes.camera import CameraModel
from enet_ros.boxes.geometry import matrix_to_quaternion
from enet_ros.frames import contact_sheet, draw_frame, OUTLINE_COLOR, top_face_corners_m
from enet_ros.replay_report import (Box3D, box_errors, BoxScorer, build_report, FrameRecord,
                                    match_boxes, print_report, REPORT_KEYS, SegmentationScorer,
                                    stats, write_report)
import numpy as np
import pytest

BOX_CLASSES = ('background', 'box', 'box_boundary')


def rot_z(deg):
    """Return the rotation by ``deg`` degrees about z."""
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def rot_x(deg):
    """Return the rotation by ``deg`` degrees about x."""
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def box(position, rot=np.eye(3), size=(0.4, 0.3, 0.2), box_id=-1):
    """Return a Box3D from a position and a rotation matrix."""
    return Box3D(np.asarray(position, float), matrix_to_quaternion(np.asarray(rot, float)),
                 np.asarray(size, float), box_id)


# --------------------------------------------------------------------------- statistics


def test_stats_percentiles_and_empty_input():
    """Percentiles interpolate linearly; NaN and None are left out; empty gives None."""
    s = stats([1.0, 2.0, 3.0, 4.0, None, float('nan')])
    assert s['count'] == 4
    assert s['p50'] == pytest.approx(2.5)
    assert s['p99'] == pytest.approx(3.97)
    assert (s['min'], s['max'], s['mean']) == (1.0, 4.0, 2.5)
    assert stats([])['p50'] is None and stats([])['count'] == 0


# --------------------------------------------------------------------------- boxes


def test_match_boxes_nearest_first_within_the_threshold():
    """Greedy matching takes the nearest pair first and never reuses a box."""
    gt = [box([0, 0, 1]), box([0.5, 0, 1])]
    pred = [box([0.02, 0, 1]), box([0.01, 0, 1]), box([0.58, 0, 1]), box([2, 0, 1])]
    pairs = match_boxes(pred, gt, 0.1)
    assert [(i, j) for i, j, _ in pairs] == [(1, 0), (2, 1)]
    assert pairs[0][2] == pytest.approx(0.01)
    assert match_boxes(pred, gt, 0.005) == []
    assert match_boxes([], gt, 1.0) == [] and match_boxes(pred, [], 1.0) == []


def test_box_errors_hand_computed():
    """Centre, size, height, normal and yaw errors of known perturbations."""
    base = rot_x(180)  # box z towards the camera (camera looking down at the box)
    gt = box([0, 0, 1.5], base, (0.4, 0.3, 0.2))
    pred = box([0.003, 0.004, 1.5], base @ rot_z(10), (0.41, 0.28, 0.25))
    e = box_errors(pred, gt)
    assert e['center_error_mm'] == pytest.approx(5.0)
    assert e['size_error_mm'] == pytest.approx(15.0)  # mean of 10 and 20 mm
    assert e['height_error_mm'] == pytest.approx(50.0)
    assert e['normal_error_deg'] == pytest.approx(0.0, abs=1e-6)
    assert e['yaw_error_deg'] == pytest.approx(10.0)
    # a half turn is the same pose (modulo 180); 170 degrees reads as 10
    assert box_errors(box([0, 0, 1.5], base @ rot_z(170)), gt)['yaw_error_deg'] == \
        pytest.approx(10.0)
    assert box_errors(box([0, 0, 1.5], base @ rot_z(180)), gt)['yaw_error_deg'] == \
        pytest.approx(0.0, abs=1e-6)
    tilted = box_errors(box([0, 0, 1.5], base @ rot_x(5)), gt)
    assert tilted['normal_error_deg'] == pytest.approx(5.0)
    assert tilted['yaw_error_deg'] == pytest.approx(0.0, abs=1e-6)
    no_size = box_errors(Box3D(gt.position_m, gt.quaternion_xyzw), gt)
    assert math.isnan(no_size['size_error_mm']) and math.isnan(no_size['height_error_mm'])


def gt_doc(*entries):
    """Return a ground-truth document with boxes (position, visible_px, visible_fraction)."""
    boxes = []
    for k, (pos, visible_px, fraction) in enumerate(entries):
        boxes.append({'id': k + 1, 'position_m': list(pos),
                      'quaternion_xyzw': list(matrix_to_quaternion(rot_x(180))),
                      'size_m': [0.4, 0.3, 0.2], 'visible_px': visible_px,
                      'visible_fraction': fraction})
    return {'boxes': boxes}


def test_box_scorer_counts_matched_missed_false():
    """Expected = visible enough; hidden boxes are neither expected nor matchable."""
    doc = gt_doc(((0, 0, 1.5), 500, 1.0), ((0.5, 0, 1.5), 300, 0.9),
                 ((1.0, 0, 1.5), 20, 0.1), ((-0.5, 0, 1.5), 0, 0.0))
    scorer = BoxScorer(max_distance_m=0.1, min_visible_fraction=0.5)
    pred = [box([0.01, 0, 1.5], rot_x(180)), box([1.02, 0, 1.5], rot_x(180)),
            box([-0.5, 0, 1.5], rot_x(180)), box([0, 0, np.nan])]
    frame = scorer.update(pred, doc)
    # matched: the first (expected); the partly visible one is 'partial' (no pose errors); the
    # hidden one is not ground truth, so the prediction there is false; the NaN pose is ignored
    assert (frame['matched'], frame['missed'], frame['false'], frame['partial'],
            frame['expected']) == (1, 1, 1, 1, 2)
    assert frame['matched'] + frame['missed'] == frame['expected']
    assert [gt_id for _, gt_id, _ in frame['pairs']] == [1]
    summary = scorer.summary()
    assert summary['center_error_mm']['count'] == 1
    assert summary['center_error_mm']['p50'] == pytest.approx(10.0)
    assert (summary['matched'], summary['missed'], summary['false'],
            summary['partial']) == (1, 1, 1, 1)
    with pytest.raises(ValueError):
        BoxScorer(max_distance_m=0.0)


# --------------------------------------------------------------------------- segmentation


def test_segmentation_same_classes_is_the_confusion_matrix():
    """Same class list: full per-class IoU, ids outside the list and the ignore id left out."""
    pred = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)
    gt = np.array([[0, 1, 2], [2, 255, 1]], np.uint8)
    scorer = SegmentationScorer(BOX_CLASSES, None, BOX_CLASSES)
    scorer.update(pred, gt)
    s = scorer.summary()
    assert s['mode'] == 'classes'
    # (pred, gt): (0,0) (1,1) (1,2) (2,2) (0,1); the (2,255) pixel is left out.
    # background: tp 1, fp 1, fn 0; box: tp 1, fp 1, fn 1; box_boundary: tp 1, fp 0, fn 1
    assert s['per_class_iou'] == {'background': pytest.approx(0.5), 'box': pytest.approx(1 / 3),
                                  'box_boundary': pytest.approx(0.5)}
    assert s['miou'] == pytest.approx((0.5 + 1 / 3 + 0.5) / 3)
    scorer_ignore = SegmentationScorer(BOX_CLASSES, None, None, gt_ignore=2)
    scorer_ignore.update(pred, gt)
    assert set(scorer_ignore.summary()['per_class_iou']) == {'background', 'box'}


def test_segmentation_different_lists_compare_box_against_background():
    """Model with a boundary class vs labels without: box and box_boundary both count as box."""
    pred = np.array([[0, 1, 2, 2]], np.uint8)
    gt = np.array([[0, 1, 1, 0]], np.uint8)
    scorer = SegmentationScorer(BOX_CLASSES, None, ['background', 'carton'])
    scorer.update(pred, gt)
    s = scorer.summary()
    assert s['mode'] == 'box_vs_background' and s['class_names'] == ['background', 'box']
    assert s['per_class_iou']['box'] == pytest.approx(2 / 3)
    assert s['per_class_iou']['background'] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match='cannot be compared'):
        SegmentationScorer(['sky', 'road'], None, BOX_CLASSES)
    with pytest.raises(ValueError):
        scorer.update(pred, gt[:, :2])


# --------------------------------------------------------------------------- the report


def test_build_report_frame_accounting_and_json(tmp_path):
    """Frames in/out, dropped, latency and boxes; the JSON has no NaN."""
    frames = [FrameRecord(1, latency_ms=10.0, boxes_latency_ms=12.0, num_boxes=3),
              FrameRecord(2, latency_ms=30.0, boxes_latency_ms=31.0, num_boxes=1, resent=1),
              FrameRecord(3)]
    report = build_report(frames, node_counts={'received': 3, 'processed': 2, 'dropped': 1},
                          info={'bag': 'x'})
    assert set(REPORT_KEYS) <= set(report) and report['bag'] == 'x'
    assert (report['frames_in'], report['frames_out']) == (3, 2)
    assert report['dropped'] == {'replay': 1, 'node': 1}
    assert report['resent'] == 1
    assert report['latency_ms']['p50'] == pytest.approx(20.0)
    assert report['latency_ms']['p99'] == pytest.approx(29.8)
    assert report['boxes_per_frame'] == {'frames_with_boxes_message': 2, 'total': 4,
                                         'mean': 2.0, 'min': 1.0, 'max': 3.0}
    assert report['ground_truth'] is None
    no_boxes = build_report(frames, boxes_published=False)
    assert no_boxes['boxes_per_frame'] is None and no_boxes['dropped']['node'] is None
    report['nan'] = float('nan')
    write_report(report, str(tmp_path / 'sub' / 'r.json'))
    loaded = json.loads((tmp_path / 'sub' / 'r.json').read_text())
    assert loaded['nan'] is None and loaded['frames_out'] == 2
    out = io.StringIO()
    print_report(report, file=out)
    text = out.getvalue()
    assert '3 / 2' in text and '20.0 / 29.8' in text


# --------------------------------------------------------------------------- drawing


def test_box_outline_is_drawn_where_the_pose_projects():
    """The top face's projected corners get the outline colour."""
    camera = CameraModel.pinhole(200.0, 200.0, 79.5, 59.5, 160, 120)
    b = box([0, 0, 2.0], rot_x(180), (0.4, 0.2, 0.1))
    corners = top_face_corners_m(b)
    np.testing.assert_allclose(np.sort(corners[:, 0]), [-0.2, -0.2, 0.2, 0.2])
    np.testing.assert_allclose(corners[:, 2], 2.0)
    rgb = np.zeros((120, 160, 3), np.uint8)
    mask = np.zeros((120, 160), np.uint8)
    image = draw_frame(rgb, mask, [(0, 0, 0), (200, 0, 0), (0, 200, 0)], [b], camera, 0.5)
    # corner (-0.2, -0.1) at z 2 m -> u = 79.5 - 20 = 59.5, v = 59.5 - 10 = 49.5 (+-1 px line)
    patch = image[48:52, 58:62].reshape(-1, 3)
    assert any(tuple(p) == OUTLINE_COLOR for p in patch)
    assert image.shape == rgb.shape and not rgb.any()  # input untouched
    # no size: only the axes; no camera: nothing drawn
    assert top_face_corners_m(Box3D(b.position_m, b.quaternion_xyzw)) is None
    assert not draw_frame(rgb, None, [(0, 0, 0)], [b], None).any()


def test_contact_sheet_grid():
    """A 5-image sheet is 3 x 2 thumbnails of the requested width."""
    images = [np.full((30, 40, 3), 50 * i, np.uint8) for i in range(5)]
    sheet = contact_sheet(images, ['a'] * 5, thumb_width=80, gap=2)
    assert sheet.shape == (2 * 60 + 3 * 2, 3 * 80 + 4 * 2, 3)
    assert (sheet[2 + 60 + 2 + 30, 2 + 80 + 2 + 40] == 200).all()  # image 4: row 1, column 1
    with pytest.raises(ValueError):
        contact_sheet([])
