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

"""Box poses from the enet node: ~/boxes, ~/markers, ~/detections over real DDS, and their parts.

The node runs with ``use_depth`` on a ray-cast RGB-D frame of six cartons with exact ground
truth (:mod:`enet_ros.boxes.synthetic`); its segmenter is a stub that returns the ground-truth
class ids, so these tests check the box path (camera_info, estimator, tf, messages), not the
model. tf2_ros and vision_msgs are not installed here: their fallbacks are tested, and the tf2 path
with a stand-in module.
"""

import json
from pathlib import Path
import sys
from types import SimpleNamespace

from enet_ros.boxes import CameraModel
from enet_ros.boxes import synthetic as syn
from enet_ros.inference.segmenter import Segmentation
from enet_ros.model.checkpoint import ClassInfo
import numpy as np
import pytest

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402,I100 - after the importorskip
from enet_ros.ros import box_messages, params, tf  # noqa: E402
from enet_ros.ros.node import camera_model_from_info  # noqa: E402
from geometry_msgs.msg import PoseArray, TransformStamped  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / 'helpers'))
from node_harness import (domain_id, Harness, large_image_ros_environment,  # noqa: E402,I100
                          make_image, wait_until)

CLASSES = ClassInfo(names=('background', 'box', 'box_boundary'),
                    colors=((0, 0, 0), (230, 160, 40), (40, 220, 255)), ignore_index=None)
CAMERA = CameraModel.pinhole(600.0, 600.0, 319.5, 239.5, 640, 480)
T0 = 1_700_000_000_123_456_789
MS = 1_000_000
TIMEOUT = 30.0
POSITION_TOLERANCE_M = 0.005
OFFSET = 40  # domain ids / namespaces apart from test_node.py's


ros_environment = pytest.fixture(scope='module', autouse=True)(large_image_ros_environment)


@pytest.fixture(scope='module')
def scene():
    """Six cartons (2 x 3, 3 cm apart) on a floor 1.3 m below a slightly tilted camera."""
    boxes, floor = syn.pallet_scene(CAMERA, rows=2, cols=3, distance_m=1.3, gap_m=0.03,
                                    tilt_deg=(4.0, -3.0), yaw_jitter_deg=3.0, seed=1)
    rendered = syn.render_scene(CAMERA, boxes, floor, rim_m=0.002, seed=1)
    depth_mm = np.where(np.isfinite(rendered.depth_m), np.round(rendered.depth_m * 1000.0),
                        0).astype(np.uint16)
    return SimpleNamespace(boxes=boxes, rgb=rendered.color, mask=rendered.mask, depth=depth_mm)


class GroundTruthSegmenter:
    """Stands in for the model: returns the scene's class ids for any image of its size."""

    def __init__(self, mask):
        """Keep the (H, W) uint8 class ids to return."""
        self.meta = SimpleNamespace(classes=CLASSES)
        self.mask = mask

    def __call__(self, rgb):
        """Return the ground-truth ids with confidence 1."""
        assert rgb.shape[:2] == self.mask.shape
        return Segmentation(self.mask.copy(), np.ones(self.mask.shape, np.float32), None,
                            {'model': 0.0})


def namespace(offset):
    """Return a namespace unique to this process and test."""
    import os
    return f'/enet_boxes_test_{os.getpid()}_{offset}'


def camera_info(width=640, height=480, scale=1.0):
    """Return CAMERA's CameraInfo for width x height, K scaled by ``scale`` (pixel centres)."""
    k = CAMERA.K.copy()
    k[0, 0] *= scale
    k[1, 1] *= scale
    k[0, 2] = (k[0, 2] + 0.5) * scale - 0.5
    k[1, 2] = (k[1, 2] + 0.5) * scale - 0.5
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob',
                      k=k.ravel().tolist(), d=[0.0] * 5)
    info.header.frame_id = 'camera_color_optical_frame'
    return info


class BoxRig:
    """Publishers and subscriptions of one test against the node in ``harness``."""

    def __init__(self, harness, scene):
        """Create the publishers and the box, marker, detection and diagnostics subscriptions."""
        self.h, self.scene = harness, scene
        ns = harness.node_ns
        self.image_pub = harness.publisher('image', reliable=True)
        self.depth_pub = harness.publisher('depth', reliable=True)
        self.info_pub = harness.publisher('camera_info', CameraInfo, reliable=True)
        types = box_messages.detection_types()
        self.detection_type = types.Detection3DArray if types else String
        self.boxes = harness.subscribe(f'{ns}/boxes', PoseArray)
        self.markers = harness.subscribe(f'{ns}/markers', MarkerArray)
        self.detections = harness.subscribe(f'{ns}/detections', self.detection_type)
        self.mask = harness.subscribe(f'{ns}/mask')
        self.diagnostics = harness.subscribe('/diagnostics', DiagnosticArray)
        node = harness.node
        for pub in (self.image_pub, self.depth_pub, self.info_pub):
            assert pub.matched.wait(TIMEOUT)
        for sub in (self.boxes, self.markers, self.detections, self.mask):
            assert sub.matched.wait(TIMEOUT)
        for pub in (node._boxes_pub, node._markers_pub, node._detections_pub, node._mask_pub):
            assert wait_until(lambda: pub.get_subscription_count() > 0, TIMEOUT)

    def send_info(self, info):
        """Publish a camera_info and wait until the node holds it."""
        self.info_pub.publish(info)
        assert wait_until(lambda: self.h.node._camera_info is not None
                          and list(self.h.node._camera_info.k) == list(info.k)
                          and self.h.node._camera_info.width == info.width
                          and self.h.node._camera_info.height == info.height, TIMEOUT)

    def send_frame(self, frame_id, stamp_ns):
        """Publish depth then colour with one stamp; return the colour message."""
        self.depth_pub.publish(make_image(self.scene.depth, '16UC1', 'depth_' + frame_id,
                                          stamp_ns))
        msg = make_image(self.scene.rgb, 'rgb8', frame_id, stamp_ns)
        self.image_pub.publish(msg)
        assert self.mask.wait_for(lambda msgs: any(m.header == msg.header for m in msgs),
                                  TIMEOUT), f'no mask for {frame_id} at {stamp_ns}'
        return msg

    def outputs(self, frame_id, timeout=TIMEOUT):
        """Return the (boxes, markers, detections) messages of the image ``frame_id``."""
        boxes = self.boxes.wait_frame(frame_id, timeout)
        markers = self.markers.wait_for(
            lambda msgs: any(m.markers and m.markers[0].header.frame_id == frame_id
                             for m in msgs), timeout)
        marker_msg = next((m for m in self.markers.msgs
                           if m.markers and m.markers[0].header.frame_id == frame_id), None)
        det = self._detections(frame_id, timeout)
        assert markers or boxes is None
        return boxes, marker_msg, det

    def _detections(self, frame_id, timeout):
        def frame_of(msg):
            if isinstance(msg, String):
                return json.loads(msg.data)['header']['frame_id']
            return msg.header.frame_id
        found = []

        def check(msgs):
            found[:] = [m for m in msgs if frame_of(m) == frame_id]
            return bool(found)

        return found[0] if self.detections.wait_for(check, timeout) else None

    def status(self, predicate, timeout=TIMEOUT):
        """Return the node's first DiagnosticStatus satisfying ``predicate(values)``, or None."""
        name = f'{self.h.node_ns.lstrip("/")}: segmentation'
        found = []

        def check(msgs):
            found[:] = [s for m in msgs for s in m.status
                        if s.name == name and predicate({v.key: v.value for v in s.values})]
            return bool(found)

        return found[0] if self.diagnostics.wait_for(check, timeout) else None


def match_ground_truth(positions, boxes):
    """Return, per estimated position, the nearest ground-truth box and the distance (m)."""
    pairs = []
    for p in positions:
        dist = [np.linalg.norm(p - b.centre_m) for b in boxes]
        k = int(np.argmin(dist))
        pairs.append((boxes[k], dist[k]))
    return pairs


def positions_of(pose_array):
    """(N, 3) positions and (N, 4) quaternions of a PoseArray."""
    p = np.array([[q.position.x, q.position.y, q.position.z] for q in pose_array.poses])
    q = np.array([[q.orientation.x, q.orientation.y, q.orientation.z, q.orientation.w]
                  for q in pose_array.poses])
    return p.reshape(-1, 3), q.reshape(-1, 4)


def node_params(**extra):
    """Return the parameter overrides of the box tests' nodes."""
    return {'use_depth': True, 'sync_slop_s': 0.01, 'diagnostics_period_s': 0.2,
            'log_throttle_s': 0.0, **extra}


# --------------------------------------------------------------------------- node over DDS


@pytest.mark.timeout(240)
def test_box_poses_markers_and_detections_match_the_ground_truth(scene, monkeypatch):
    """Boxes, markers and the detections fallback, with the image header, on a known scene."""
    monkeypatch.setattr(box_messages, 'detection_types', lambda: None)  # the JSON fallback
    with Harness(domain_id(OFFSET), node_params(), namespace(OFFSET),
                 segmenter=GroundTruthSegmenter(scene.mask)) as h:
        assert h.node._detections_pub.msg_type is String
        rig = BoxRig(h, scene)
        rig.send_info(camera_info())
        image = rig.send_frame('cam_a', T0)
        boxes, markers, detections = rig.outputs('cam_a')
        assert boxes is not None, 'no ~/boxes'
        assert boxes.header == image.header                        # stamp and frame_id exactly
        assert len(boxes.poses) == len(scene.boxes) == 6
        positions, quats = positions_of(boxes)
        pairs = match_ground_truth(positions, scene.boxes)
        assert len({id(gt) for gt, _ in pairs}) == 6                # one estimate per carton
        errors = [d for _, d in pairs]
        print(f'\n[boxes] position errors (mm): {np.round(np.array(errors) * 1000, 2).tolist()}')
        assert max(errors) < POSITION_TOLERANCE_M
        normals = box_messages.BoxPoses(np.zeros(6), positions, quats, np.zeros((6, 3)),
                                        np.zeros(6)).normals()
        for (gt, _), n in zip(pairs, normals):
            assert np.degrees(np.arccos(np.clip(n @ gt.rotation[:, 2], -1, 1))) < 1.0
        # Markers: DELETEALL first, then one CUBE and one TEXT per box, the cube sized like it.
        assert markers.markers[0].action == Marker.DELETEALL
        cubes = [m for m in markers.markers if m.type == Marker.CUBE]
        texts = [m for m in markers.markers if m.type == Marker.TEXT_VIEW_FACING]
        assert len(cubes) == len(texts) == 6 and len(markers.markers) == 13
        assert all(m.header == image.header for m in markers.markers)
        for k, cube in enumerate(cubes):
            assert (cube.ns, cube.id, cube.action) == ('boxes', k, Marker.ADD)
            gt = pairs[k][0]
            size = np.array([cube.scale.x, cube.scale.y, cube.scale.z])
            np.testing.assert_allclose(size, gt.size_m, atol=0.005)
            centre = np.array([cube.pose.position.x, cube.pose.position.y, cube.pose.position.z])
            expected = gt.centre_m - gt.rotation[:, 2] * gt.size_m[2] / 2  # the carton's middle
            assert np.linalg.norm(centre - expected) < POSITION_TOLERANCE_M
            assert texts[k].id == k and texts[k].ns == 'box_labels' and ' cm ' in texts[k].text
            assert cube.lifetime.sec == 1 and cube.lifetime.nanosec == 0
        # Detections: the std_msgs/String JSON where vision_msgs is missing.
        doc = json.loads(detections.data)
        assert doc['header'] == {'stamp': {'sec': image.header.stamp.sec,
                                           'nanosec': image.header.stamp.nanosec},
                                 'frame_id': 'cam_a'}
        assert len(doc['detections']) == 6
        for det, p, (gt, _) in zip(doc['detections'], positions, pairs):
            assert det['class_id'] == 'box' and 0.0 < det['score'] <= 1.0
            np.testing.assert_allclose(det['position_m'], p, atol=1e-9)
            np.testing.assert_allclose(det['size_m'], gt.size_m, atol=0.005)
        status = rig.status(lambda v: v.get('box_frames') == '1')
        assert status is not None
        values = {v.key: v.value for v in status.values}
        assert values['boxes'] == '6' and values['camera_info_problems'] == '0'
        assert values['boxes_frame_id'] == 'cam_a' and float(values['box_estimation_ms']) > 0


@pytest.mark.timeout(240)
def test_no_estimation_without_subscribers_and_publish_boxes_switch(scene):
    """Nobody listening, or publish_boxes false: no box work, no box messages."""
    with Harness(domain_id(OFFSET + 1), node_params(), namespace(OFFSET + 1),
                 segmenter=GroundTruthSegmenter(scene.mask)) as h:
        image_pub = h.publisher('image', reliable=True)
        depth_pub = h.publisher('depth', reliable=True)
        info_pub = h.publisher('camera_info', CameraInfo, reliable=True)
        mask = h.subscribe(f'{h.node_ns}/mask')
        for endpoint in (image_pub, depth_pub, info_pub, mask):
            assert endpoint.matched.wait(TIMEOUT)
        assert wait_until(lambda: h.node._mask_pub.get_subscription_count() > 0, TIMEOUT)
        info_pub.publish(camera_info())
        assert wait_until(lambda: h.node._camera_info is not None, TIMEOUT)
        depth_pub.publish(make_image(scene.depth, '16UC1', 'd', T0))
        image_pub.publish(make_image(scene.rgb, 'rgb8', 'alone', T0))
        assert mask.wait_frame('alone', TIMEOUT) is not None
        assert h.node._box_stats.frames == 0                        # nobody subscribed
        rig = BoxRig(h, scene)
        h.node.set_parameters([Parameter('publish_boxes', value=False)])
        rig.send_frame('off', T0 + 100 * MS)
        assert rig.boxes.wait_frame('off', 1.0) is None and h.node._box_stats.frames == 0
        h.node.set_parameters([Parameter('publish_boxes', value=True)])
        rig.send_frame('on', T0 + 200 * MS)
        boxes, _, _ = rig.outputs('on')
        assert boxes is not None and len(boxes.poses) == 6


@pytest.mark.timeout(240)
def test_camera_info_scaled_or_rejected_and_counted(scene):
    """A 2x camera_info is scaled; another aspect ratio or none is refused, counted, reported."""
    with Harness(domain_id(OFFSET + 2), node_params(), namespace(OFFSET + 2),
                 segmenter=GroundTruthSegmenter(scene.mask)) as h:
        rig = BoxRig(h, scene)
        # No camera_info yet: nothing published, counted, WARN in the diagnostics.
        rig.send_frame('no_info', T0)
        assert rig.boxes.wait_frame('no_info', 1.0) is None
        status = rig.status(lambda v: v.get('camera_info_problems') == '1')
        assert status is not None and status.level == b'\x01'
        assert 'no camera_info' in status.message
        # 1280x960 with K for that size: scaled to the 640x480 image.
        rig.send_info(camera_info(1280, 960, scale=2.0))
        rig.send_frame('scaled', T0 + 100 * MS)
        boxes, _, _ = rig.outputs('scaled')
        assert boxes is not None and len(boxes.poses) == 6
        positions, _ = positions_of(boxes)
        assert max(d for _, d in match_ground_truth(positions, scene.boxes)) < \
            POSITION_TOLERANCE_M
        # 1280x720: another aspect ratio, refused and counted; no boxes for that frame.
        rig.send_info(camera_info(1280, 720, scale=2.0))
        rig.send_frame('wide', T0 + 200 * MS)
        assert rig.boxes.wait_frame('wide', 1.0) is None
        status = rig.status(lambda v: v.get('camera_info_problems') == '2')
        assert status is not None and status.level == b'\x01'
        assert 'aspect ratios differ' in status.message
        values = {v.key: v.value for v in status.values}
        assert '1280x720' in values['box_last_problem']
        # A matching camera_info again: boxes again.
        rig.send_info(camera_info())
        rig.send_frame('again', T0 + 300 * MS)
        boxes, _, _ = rig.outputs('again')
        assert boxes is not None and len(boxes.poses) == 6
        assert h.node._box_stats.camera_info_problems == 2


@pytest.mark.timeout(240)
def test_unusable_box_inputs_are_refused_counted_and_the_node_goes_on(scene):
    """No frame_id, float depth in millimetres, implausible K: no poses, a counted reason."""
    with Harness(domain_id(OFFSET + 8), node_params(), namespace(OFFSET + 8),
                 segmenter=GroundTruthSegmenter(scene.mask)) as h:
        rig = BoxRig(h, scene)
        rig.send_info(camera_info())
        # An image without frame_id: a pose in no frame is unusable.
        rig.send_frame('', T0)
        assert rig.boxes.wait_for(lambda msgs: len(msgs) > 0, 1.0) is False
        status = rig.status(lambda v: v.get('box_failures') == '1')
        assert status is not None and status.level == b'\x01'
        assert 'empty frame_id' in {v.key: v.value for v in status.values}['box_last_problem']
        # 32FC1 depth holding millimetres: refused, not read as kilometres.
        stamp = T0 + 100 * MS
        rig.depth_pub.publish(make_image(scene.depth.astype(np.float32), '32FC1', 'depth_mm',
                                         stamp))
        msg = make_image(scene.rgb, 'rgb8', 'float_mm', stamp)
        rig.image_pub.publish(msg)
        assert rig.mask.wait_for(lambda msgs: any(m.header == msg.header for m in msgs),
                                 TIMEOUT)
        assert rig.boxes.wait_frame('float_mm', 1.0) is None
        status = rig.status(lambda v: v.get('box_failures') == '2')
        assert status is not None
        assert 'it looks like millimetres' in {v.key: v.value
                                               for v in status.values}['box_last_problem']
        # A K whose principal point lies far outside the image: refused as camera_info.
        bad = camera_info()
        bad.k[2], bad.k[5] = 5000.0, -4000.0
        rig.send_info(bad)
        rig.send_frame('bad_k', T0 + 200 * MS)
        assert rig.boxes.wait_frame('bad_k', 1.0) is None
        status = rig.status(lambda v: v.get('camera_info_problems') == '1')
        assert status is not None
        assert 'principal point' in {v.key: v.value for v in status.values}['box_last_problem']
        # Good inputs again: poses again, and every frame was processed.
        rig.send_info(camera_info())
        rig.send_frame('good', T0 + 300 * MS)
        boxes, _, _ = rig.outputs('good')
        assert boxes is not None and len(boxes.poses) == 6
        stats = h.node._box_stats
        assert (stats.failures, stats.camera_info_problems, stats.frames) == (2, 1, 1)


@pytest.mark.timeout(240)
def test_target_frame_without_tf2_warns_once_and_keeps_the_camera_frame(scene, monkeypatch):
    """target_frame set, tf2_ros missing: one warning, camera-frame output."""
    monkeypatch.setattr(tf, 'tf2_ros_module', lambda: None)
    with Harness(domain_id(OFFSET + 3), node_params(target_frame='base_link'),
                 namespace(OFFSET + 3), segmenter=GroundTruthSegmenter(scene.mask)) as h:
        rosout = h.subscribe('/rosout', Log)
        assert wait_until(lambda: rosout.subscription.get_publisher_count() >= 2, TIMEOUT)
        rig = BoxRig(h, scene)
        rig.send_info(camera_info())
        for i in range(3):
            image = rig.send_frame(f'cam_{i}', T0 + i * 100 * MS)
            boxes, markers, _ = rig.outputs(f'cam_{i}')
            assert boxes.header == image.header and markers.markers[0].header == image.header
            assert len(boxes.poses) == 6
        node_logger = h.node.get_logger().name
        assert rosout.wait_for(lambda msgs: any('tf2_ros is not installed' in m.msg
                                                for m in msgs), TIMEOUT)
        warnings = [m for m in rosout.msgs
                    if m.name == node_logger and 'tf2_ros is not installed' in m.msg]
        assert len(warnings) == 1 and warnings[0].level == Log.WARN
        assert "'base_link'" in warnings[0].msg


class StandInTf2:
    """A tf2_ros stand-in: Buffer.lookup_transform returns a fixed transform or raises."""

    class TransformException(Exception):
        """tf2_ros.TransformException."""

    def __init__(self, translation, quaternion):
        """Keep the transform (camera frame in base_link) to return."""
        self.translation, self.quaternion = translation, quaternion
        self.fail = False
        self.calls = []
        self.listeners = []
        stand_in = self

        class Buffer:
            def lookup_transform(self, target, source, time, timeout=None):
                stand_in.calls.append((target, source, time.nanoseconds, timeout.nanoseconds))
                if stand_in.fail:
                    raise StandInTf2.TransformException('"base_link" passed to lookupTransform '
                                                        'argument target_frame does not exist')
                msg = TransformStamped()
                msg.header.frame_id, msg.child_frame_id = target, source
                t, q = stand_in.translation, stand_in.quaternion
                msg.transform.translation.x, msg.transform.translation.y = t[0], t[1]
                msg.transform.translation.z = t[2]
                (msg.transform.rotation.x, msg.transform.rotation.y, msg.transform.rotation.z,
                 msg.transform.rotation.w) = q
                return msg

        class TransformListener:
            def __init__(self, buffer, node):
                stand_in.listeners.append((buffer, node))

        self.Buffer, self.TransformListener = Buffer, TransformListener


@pytest.mark.timeout(240)
def test_target_frame_with_tf2_transforms_at_the_image_stamp(scene, monkeypatch):
    """With tf2 (a stand-in): poses in target_frame at the image stamp; failures publish none."""
    angle = np.deg2rad(30.0)
    quaternion = (np.sin(angle / 2) * 0.6, 0.0, np.sin(angle / 2) * 0.8, np.cos(angle / 2))
    translation = (0.4, -0.2, 1.1)
    stand_in = StandInTf2(translation, quaternion)
    monkeypatch.setattr(tf, 'tf2_ros_module', lambda: stand_in)
    monkeypatch.setattr(box_messages, 'detection_types', lambda: None)
    with Harness(domain_id(OFFSET + 4), node_params(target_frame='base_link', tf_timeout_s=0.2),
                 namespace(OFFSET + 4), segmenter=GroundTruthSegmenter(scene.mask)) as h:
        rig = BoxRig(h, scene)
        rig.send_info(camera_info())
        image = rig.send_frame('camera_color_optical_frame', T0)
        boxes, markers, detections = rig.outputs('base_link')
        assert boxes.header.frame_id == 'base_link' and boxes.header.stamp == image.header.stamp
        assert markers.markers[0].header.stamp == image.header.stamp
        assert json.loads(detections.data)['header']['frame_id'] == 'base_link'
        assert stand_in.calls == [('base_link', 'camera_color_optical_frame', T0, 200 * MS)]
        assert len(stand_in.listeners) == 1 and stand_in.listeners[0][1] is h.node
        rot = tf.rotation_matrix(quaternion)
        positions, quats = positions_of(boxes)
        truth = np.array([b.centre_m for b in scene.boxes]) @ rot.T + np.array(translation)
        for p in positions:
            assert np.min(np.linalg.norm(truth - p, axis=1)) < POSITION_TOLERANCE_M
        normals = box_messages.BoxPoses(np.zeros(6), positions, quats, np.zeros((6, 3)),
                                        np.zeros(6)).normals()
        gt_normals = np.array([b.rotation[:, 2] for b in scene.boxes]) @ rot.T
        assert np.all(np.max(normals @ gt_normals.T, axis=1) > np.cos(np.deg2rad(1.0)))
        # No transform: nothing published for that frame, counted.
        stand_in.fail = True
        rig.send_frame('camera_color_optical_frame', T0 + 100 * MS)
        status = rig.status(lambda v: v.get('tf_failures') == '1')
        assert status is not None and 'does not exist' in status.message
        assert len(rig.boxes.msgs) == 1 and len(rig.markers.msgs) == 1
        stand_in.fail = False
        rig.send_frame('camera_color_optical_frame', T0 + 200 * MS)
        assert rig.boxes.wait_for(lambda msgs: len(msgs) == 2, TIMEOUT)
        assert rig.boxes.msgs[-1].header.stamp.nanosec == (T0 + 200 * MS) % 10**9


@pytest.mark.timeout(240)
def test_working_plane_gives_metric_poses_without_depth():
    """use_depth off, working_plane_z_m at the top faces: poses from the mask alone."""
    boxes, floor = syn.pallet_scene(CAMERA, rows=2, cols=3, distance_m=1.3, gap_m=0.03,
                                    tilt_deg=(0.0, 0.0), yaw_jitter_deg=3.0, seed=2)
    rendered = syn.render_scene(CAMERA, boxes, floor, rim_m=0.002, seed=2)
    # Without depth nothing tells a top face from the side faces beside it: the segmenter labels
    # the top faces only (as a model trained for a camera above the pallet does).
    top_faces = rendered.top.astype(np.uint8)
    overrides = {'use_depth': False, 'working_plane_z_m': 1.2, 'diagnostics_period_s': 0.2}
    with Harness(domain_id(OFFSET + 6), overrides, namespace(OFFSET + 6),
                 segmenter=GroundTruthSegmenter(top_faces)) as h:
        image_pub = h.publisher('image', reliable=True)
        info_pub = h.publisher('camera_info', CameraInfo, reliable=True)
        out = h.subscribe(f'{h.node_ns}/boxes', PoseArray)
        for endpoint in (image_pub, info_pub, out):
            assert endpoint.matched.wait(TIMEOUT)
        assert wait_until(lambda: h.node._boxes_pub.get_subscription_count() > 0, TIMEOUT)
        info_pub.publish(camera_info())
        assert wait_until(lambda: h.node._camera_info is not None, TIMEOUT)
        image = make_image(rendered.color, 'rgb8', 'plane', T0)
        image_pub.publish(image)
        msg = out.wait_frame('plane', TIMEOUT)
        assert msg is not None and msg.header == image.header and len(msg.poses) == 6
        positions, _ = positions_of(msg)
        assert np.allclose(positions[:, 2], 1.2, atol=1e-6)
        assert max(d for _, d in match_ground_truth(positions, boxes)) < POSITION_TOLERANCE_M


def test_box_class_ids_must_exist_in_the_model(scene):
    """Box class ids beyond the model's classes stop the node at start-up with the fix."""
    with pytest.raises(params.ParameterError, match='do not exist in the model'):
        Harness(domain_id(OFFSET + 5), node_params(box_class_ids=[1, 5]),
                namespace(OFFSET + 5), segmenter=GroundTruthSegmenter(scene.mask))


# --------------------------------------------------------------------------- pieces, no DDS


def test_camera_model_from_camera_info():
    """K, D, model and size are read; unusable camera_infos are refused with the reason."""
    info = camera_info()
    info.d = [0.1, -0.05, 0.001, 0.0, 0.0]
    model = camera_model_from_info(info)
    np.testing.assert_allclose(model.K, CAMERA.K)
    assert model.size == (640, 480) and model.distortion_model == 'plumb_bob'
    np.testing.assert_allclose(model.D, info.d)
    for change, fragment in [({'width': 0}, 'no image size'), ({'k': [0.0] * 9}, 'all zero'),
                             ({'binning_x': 2}, 'binning'),
                             ({'distortion_model': 'equidistant'}, 'equidistant')]:
        bad = camera_info()
        bad.d = [0.1, 0.0, 0.0, 0.0]
        for key, value in change.items():
            setattr(bad, key, value)
        with pytest.raises(ValueError, match=fragment):
            camera_model_from_info(bad)


def test_transform_poses_matches_matrix_maths():
    """Positions R p + t, orientations q * q_p, w >= 0."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    t = np.array([0.3, -1.2, 0.7])
    p = rng.normal(size=(5, 3))
    qp = rng.normal(size=(5, 4))
    qp /= np.linalg.norm(qp, axis=1, keepdims=True)
    out_p, out_q = tf.transform_poses(p, qp, t, q)
    r = tf.rotation_matrix(q)
    np.testing.assert_allclose(out_p, p @ r.T + t, atol=1e-12)
    for k in range(5):
        np.testing.assert_allclose(tf.rotation_matrix(out_q[k]),
                                   r @ tf.rotation_matrix(qp[k]), atol=1e-12)
    assert np.all(out_q[:, 3] >= 0)
    # 90 degrees about z takes x to y.
    quarter = (0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4))
    out, _ = tf.transform_poses(np.array([[1.0, 0.0, 0.0]]), np.array([[0, 0, 0, 1.0]]),
                                np.zeros(3), quarter)
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.0]], atol=1e-12)


def _poses():
    """Two boxes: one with a height, one without; z axis of the second tilted."""
    tilt = (np.sin(np.deg2rad(10) / 2), 0.0, 0.0, np.cos(np.deg2rad(10) / 2))
    return box_messages.BoxPoses(
        ids=np.array([3, 7]), positions=np.array([[0.1, -0.2, 1.3], [-0.3, 0.1, 1.25]]),
        quaternions=np.array([[1.0, 0.0, 0.0, 0.0], tilt]),
        sizes=np.array([[0.34, 0.25, 0.2], [0.255, 0.155, np.nan]]), scores=np.array([0.9, 0.4]))


def _header():
    header = Header(frame_id='camera_color_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000, 123_456_789
    return header


def test_marker_layout():
    """DELETEALL, then per box a CUBE (carton centre, size, default thickness) and a label."""
    poses = _poses()
    msg = box_messages.marker_array(_header(), poses, lifetime_s=0.25)
    assert [m.action for m in msg.markers] == [Marker.DELETEALL] + [Marker.ADD] * 4
    cube0, text0, cube1, text1 = msg.markers[1:]
    assert (cube0.type, cube0.ns, cube0.id) == (Marker.CUBE, 'boxes', 0)
    assert (text1.type, text1.ns, text1.id) == (Marker.TEXT_VIEW_FACING, 'box_labels', 1)
    # Box 0: the quaternion (1, 0, 0, 0) turns z to -z: the carton's middle is 0.1 m deeper.
    np.testing.assert_allclose([cube0.pose.position.x, cube0.pose.position.y,
                                cube0.pose.position.z], [0.1, -0.2, 1.4], atol=1e-12)
    assert (cube0.scale.x, cube0.scale.y, cube0.scale.z) == pytest.approx((0.34, 0.25, 0.2))
    assert cube1.scale.z == pytest.approx(box_messages.DEFAULT_THICKNESS_M)
    assert cube0.lifetime.sec == 0 and cube0.lifetime.nanosec == 250_000_000
    assert text0.text == '3: 34.0 x 25.0 x 20.0 cm s=0.90'
    assert text1.text == '7: 25.5 x 15.5 x ? cm s=0.40'
    assert cube0.color.g > cube1.color.g and cube1.color.r > cube0.color.r
    assert all(m.header.frame_id == 'camera_color_optical_frame' for m in msg.markers)
    empty = box_messages.marker_array(_header(), box_messages.BoxPoses.from_boxes([]), 1.0)
    assert len(empty.markers) == 1 and empty.markers[0].action == Marker.DELETEALL


def test_marker_lifetime_carries_rounded_nanoseconds_into_seconds():
    """A lifetime a hair below a whole second is that second, not 0 (which means forever)."""
    for lifetime, expected in ((0.9999999999, (1, 0)), (1.9999999999, (2, 0)),
                               (2.5, (2, 500_000_000)), (0.25, (0, 250_000_000)), (0.0, (0, 0)),
                               (3e-9, (0, 3))):
        msg = box_messages.marker_array(_header(), _poses(), lifetime_s=lifetime)
        assert {(m.lifetime.sec, m.lifetime.nanosec) for m in msg.markers[1:]} == {expected}


class _FakeVision:
    """vision_msgs 4.x field layout (Humble / Jazzy), with geometry_msgs types inside."""

    class ObjectHypothesis:
        def __init__(self):
            self.class_id, self.score = '', 0.0

    class ObjectHypothesisWithPose:
        def __init__(self):
            from geometry_msgs.msg import PoseWithCovariance
            self.hypothesis = _FakeVision.ObjectHypothesis()
            self.pose = PoseWithCovariance()

    class BoundingBox3D:
        def __init__(self):
            from geometry_msgs.msg import Pose, Vector3
            self.center, self.size = Pose(), Vector3()

    class Detection3D:
        def __init__(self):
            self.header, self.results, self.bbox, self.id = Header(), [], None, ''

    class Detection3DArray:
        def __init__(self):
            self.header, self.detections = Header(), []


def test_detection3d_array_against_the_vision_msgs_4_layout():
    """Header, hypothesis (class 'box', score, top-face pose), bbox (carton centre, size), id."""
    fake = _FakeVision
    types = box_messages.DetectionTypes(fake.Detection3DArray, fake.Detection3D,
                                        fake.ObjectHypothesisWithPose, fake.BoundingBox3D)
    header = _header()
    poses = _poses()
    msg = box_messages.detection_array(header, poses, types)
    assert msg.header == header and len(msg.detections) == 2
    d0, d1 = msg.detections
    assert d0.header == header and d0.id == '3' and d1.id == '7'
    (hyp,) = d0.results
    assert hyp.hypothesis.class_id == 'box' and hyp.hypothesis.score == pytest.approx(0.9)
    assert (hyp.pose.pose.position.x, hyp.pose.pose.position.z) == pytest.approx((0.1, 1.3))
    assert hyp.pose.pose.orientation.x == 1.0 and list(hyp.pose.covariance) == [0.0] * 36
    assert d0.bbox.center.position.z == pytest.approx(1.4)              # carton middle
    assert (d0.bbox.size.x, d0.bbox.size.y, d0.bbox.size.z) == pytest.approx((0.34, 0.25, 0.2))
    assert d1.bbox.size.z == 0.0                                       # unknown height
    assert d1.bbox.center.position.z == pytest.approx(1.25)            # the top face then
    real = box_messages.detection_types()
    if real is not None:  # a ROS install: the real classes take the same fields
        box_messages.detection_array(header, poses, real)


def test_detections_json_fallback():
    """The String fallback carries the same content; unknown heights are null."""
    doc = json.loads(box_messages.detections_json(_header(), _poses()))
    assert doc['header']['frame_id'] == 'camera_color_optical_frame'
    assert doc['header']['stamp'] == {'sec': 1_700_000_000, 'nanosec': 123_456_789}
    first, second = doc['detections']
    assert first['id'] == '3' and first['class_id'] == 'box' and first['score'] == 0.9
    assert first['size_m'] == [0.34, 0.25, 0.2] and second['size_m'][2] is None
    np.testing.assert_allclose(first['bbox_center_m'], [0.1, -0.2, 1.4], atol=1e-12)


def test_lookup_wraps_tf2_errors():
    """The lookup creates the buffer once and turns tf2 errors into LookupError."""
    stand_in = StandInTf2((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    lookup = tf.TransformLookup(node=object(), module=stand_in)
    from builtin_interfaces.msg import Time
    stamp = Time(sec=5, nanosec=7)
    t, r = lookup.lookup('base_link', 'cam', stamp, 0.1)
    np.testing.assert_array_equal(t, [0, 0, 0])
    np.testing.assert_array_equal(r, [0, 0, 0, 1])
    stand_in.fail = True
    with pytest.raises(LookupError, match="'cam' to 'base_link' at 5.000000007"):
        lookup.lookup('base_link', 'cam', stamp, 0.1)
    assert len(stand_in.listeners) == 1 and lookup.started


@pytest.mark.timeout(120)
def test_boxes_use_the_camera_info_of_their_own_stamp(scene):
    """A camera_info with the frame's stamp wins over the latest one (late or changing info)."""
    with Harness(domain_id(OFFSET + 7), node_params(), namespace(OFFSET + 7),
                 segmenter=GroundTruthSegmenter(scene.mask)) as h:
        infos = []
        for sec, scale in ((10, 1.0), (11, 0.5), (12, 2.0)):
            info = camera_info(scale=scale)
            info.header.stamp.sec = sec
            h.node._on_camera_info(info)
            infos.append(info)

        def frame(sec, fallback):
            return SimpleNamespace(header=Header(stamp=infos[0].header.stamp.__class__(sec=sec)),
                                   camera_info=fallback)

        assert h.node._camera_info_for(frame(11, infos[2])) is infos[1]
        assert h.node._camera_info_for(frame(10, infos[2])) is infos[0]
        assert h.node._camera_info_for(frame(13, infos[2])) is infos[2]   # none: the frame's own
        assert h.node._camera_info_for(frame(13, None)) is None
