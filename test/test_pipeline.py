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

"""Pure tests of the node's processing: frame slot, outputs, overlay, depth pairing, statistics."""

import threading

from enet_ros.pipeline import (apply_confidence_threshold, diagnostic_level, ERROR,
                               LatestFrameSlot, LogThrottle, OK, OutputSettings,
                               SegmentationPipeline, SlotCounts, StampPairer, StatsWindow, WARN,
                               WindowStats)
from enet_ros.viz import Colorizer, confidence_to_mono8
import numpy as np
import pytest

COLORS = ((0, 0, 0), (255, 0, 0), (10, 200, 30))


class StubSegmentation:
    """What a Segmenter returns, from given arrays."""

    def __init__(self, class_ids, confidence):
        """Keep the arrays."""
        self.class_ids = class_ids
        self.confidence = confidence
        self.timings_ms = {'preprocess': 1.0, 'model': 2.0, 'postprocess': 0.5}


class StubSegmenter:
    """Class id = (x + y) % 3, confidence = x / width; records the images it got."""

    def __init__(self, dtype=np.uint8):
        """Choose the class-id dtype."""
        self.dtype = dtype
        self.calls = []

    def __call__(self, rgb):
        """Segment an (H, W, 3) image."""
        self.calls.append(rgb)
        h, w = rgb.shape[:2]
        y, x = np.mgrid[0:h, 0:w]
        ids = ((x + y) % 3).astype(self.dtype)
        conf = (x / w).astype(np.float32)
        return StubSegmentation(ids, conf)


# --------------------------------------------------------------------------- LatestFrameSlot


def test_slot_keeps_only_the_newest_frame_and_counts_drops():
    """Slot keeps only the newest frame and counts drops."""
    slot = LatestFrameSlot()
    assert slot.take(timeout=0.0) is None
    assert slot.put('a') is False
    assert slot.put('b') is True  # 'a' was never taken: dropped
    assert slot.put('c') is True
    slot.reject()
    assert slot.counts() == SlotCounts(received=4, rejected=1, dropped=2, processed=0, failed=0,
                                       pending=1)
    assert slot.take(timeout=0.0) == 'c'
    slot.done(True)
    assert slot.take(timeout=0.01) is None
    slot.put('d')
    assert slot.take() == 'd'
    slot.done(False)
    assert slot.counts() == SlotCounts(received=5, rejected=1, dropped=2, processed=1, failed=1,
                                       pending=0)


def test_slot_close_wakes_a_waiting_consumer():
    """Slot close wakes a waiting consumer."""
    slot = LatestFrameSlot()
    got = []
    started = threading.Event()

    def consumer():
        started.set()
        got.append(slot.take())  # no timeout: only close() ends this

    thread = threading.Thread(target=consumer)
    thread.start()
    assert started.wait(10)
    slot.close()
    thread.join(timeout=10)
    assert not thread.is_alive() and got == [None] and slot.closed
    slot.put('x')
    assert slot.take(timeout=0.0) is None


def test_slot_counters_stay_consistent_with_a_concurrent_consumer():
    """Slot counters stay consistent with a concurrent consumer."""
    slot = LatestFrameSlot()
    frames = 2000
    taken = []

    def consumer():
        while True:
            item = slot.take(timeout=5.0)
            if item is None:
                return
            taken.append(item)
            slot.done(True)

    thread = threading.Thread(target=consumer)
    thread.start()
    for i in range(frames):
        slot.put(i)
    counts = slot.counts()
    # every frame is either processed, dropped, or still waiting / in progress
    assert counts.received == frames
    assert frames - 1 <= counts.processed + counts.dropped + counts.pending <= frames
    slot.close()
    thread.join(timeout=10)
    counts = slot.counts()
    assert counts.processed == len(taken)
    assert counts.processed + counts.dropped + counts.pending <= frames
    assert taken == sorted(taken)  # the worker never sees an older frame after a newer one


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize('low_id', [0, 7])
def test_confidence_threshold_uint8(low_id):
    """Confidence threshold uint8."""
    ids = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    conf = np.array([[0.1, 0.5, 0.9], [0.49, 0.51, 1.0]], np.float32)
    out = apply_confidence_threshold(ids, conf, 0.5, low_id)
    expected = np.where(conf < 0.5, low_id, ids).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8
    assert apply_confidence_threshold(ids, conf, 0.0, low_id) is ids


def test_confidence_threshold_uint16():
    """Confidence threshold uint16."""
    ids = np.array([[300, 2], [4, 299]], np.uint16)
    conf = np.array([[0.9, 0.2], [0.8, 0.1]], np.float32)
    out = apply_confidence_threshold(ids, conf, 0.5, 11)
    np.testing.assert_array_equal(out, [[300, 11], [4, 11]])
    assert out.dtype == np.uint16


def test_colorizer_maps_ids_to_colours_and_unknown_ids_to_black():
    """Colorizer maps ids to colours and unknown ids to black."""
    col = Colorizer(COLORS)
    ids = np.array([[0, 1, 2], [3, 255, 1]], np.uint8)
    out = col.colorize(ids)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 1], COLORS[1])
    np.testing.assert_array_equal(out[0, 2], COLORS[2])
    np.testing.assert_array_equal(out[1, 0], (0, 0, 0))
    np.testing.assert_array_equal(out[1, 1], (0, 0, 0))
    ids16 = np.array([[1, 1000]], np.uint16)
    np.testing.assert_array_equal(col.colorize(ids16), [[COLORS[1], (0, 0, 0)]])
    with pytest.raises(ValueError, match='uint8 or uint16'):
        col.colorize(ids.astype(np.int32))
    with pytest.raises(ValueError, match='triples'):
        Colorizer([(1, 2)])


@pytest.mark.parametrize('alpha', [0.0, 0.3, 1.0])
def test_overlay_blends_colours_over_a_row_padded_view(alpha):
    """Overlay blends colours over a row padded view."""
    rng = np.random.default_rng(0)
    h, w = 7, 5
    padded = rng.integers(0, 256, (h, w + 3, 3), dtype=np.uint8)
    image = padded[:, :w]  # row-padded view, as conversions return for padded rgb8 rows
    ids = rng.integers(0, 3, (h, w), dtype=np.uint8)
    out = Colorizer(COLORS).overlay(image, ids, alpha)
    colours = np.array(COLORS, np.float64)[ids]
    expected = (1 - alpha) * image.astype(np.float64) + alpha * colours
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(np.float64) - expected).max() <= 1.0
    with pytest.raises(ValueError, match='alpha'):
        Colorizer(COLORS).overlay(image, ids, 1.5)
    with pytest.raises(ValueError, match='do not match'):
        Colorizer(COLORS).overlay(image, ids[:-1], 0.5)


def test_confidence_to_mono8_rounds_and_saturates():
    """Confidence to mono8 rounds and saturates."""
    conf = np.array([[0.0, 0.2, 0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(confidence_to_mono8(conf), [[0, 51, 128, 255]])


@pytest.mark.parametrize('shape', [(37, 53), (1, 1), (53, 37)])
def test_pipeline_outputs_have_the_input_size(shape):
    """Pipeline outputs have the input size."""
    seg = StubSegmenter()
    pipe = SegmentationPipeline(seg, COLORS)
    rgb = np.full(shape + (3,), 100, np.uint8)
    result = pipe.process(rgb, want_confidence=True, want_overlay=True)
    assert result.class_ids.shape == shape and result.mask_encoding == 'mono8'
    assert result.confidence_image.shape == shape and result.confidence_encoding == 'mono8'
    assert result.overlay.shape == shape + (3,)
    assert set(result.timings_ms) == {'preprocess', 'model', 'postprocess', 'outputs'}
    none = pipe.process(rgb, want_confidence=False, want_overlay=False)
    assert none.confidence_image is None and none.overlay is None
    assert none.confidence_encoding is None


def test_pipeline_settings_change_between_frames():
    """Pipeline settings change between frames."""
    seg = StubSegmenter()
    pipe = SegmentationPipeline(seg, COLORS, OutputSettings(confidence_encoding='32FC1'))
    rgb = np.zeros((4, 8, 3), np.uint8)
    result = pipe.process(rgb)
    assert result.confidence_encoding == '32FC1' and result.confidence_image.dtype == np.float32
    np.testing.assert_array_equal(result.confidence_image, np.tile(np.arange(8) / 8, (4, 1)))
    pipe.settings = OutputSettings(confidence_threshold=0.5, low_confidence_id=0,
                                   overlay_alpha=1.0)
    result = pipe.process(rgb, want_overlay=True)
    assert (result.class_ids[:, :4] == 0).all()  # x / 8 < 0.5 there
    np.testing.assert_array_equal(result.class_ids[:, 4:], seg(rgb).class_ids[:, 4:])
    np.testing.assert_array_equal(result.overlay, Colorizer(COLORS).colorize(result.class_ids))


def test_pipeline_mono16_for_many_classes():
    """Pipeline mono16 for many classes."""
    pipe = SegmentationPipeline(StubSegmenter(np.uint16), COLORS)
    result = pipe.process(np.zeros((3, 4, 3), np.uint8), want_overlay=True)
    assert result.mask_encoding == 'mono16' and result.class_ids.dtype == np.uint16


def test_output_settings_reject_bad_values():
    """Output settings reject bad values."""
    with pytest.raises(ValueError, match='overlay_alpha'):
        OutputSettings(overlay_alpha=2.0)
    with pytest.raises(ValueError, match='confidence_encoding'):
        OutputSettings(confidence_encoding='16UC1')
    with pytest.raises(ValueError, match='confidence_threshold'):
        OutputSettings(confidence_threshold=-0.1)


# --------------------------------------------------------------------------- depth pairing

MS = 1_000_000


def test_pairer_pairs_equal_and_nearest_stamps():
    """Pairer pairs equal and nearest stamps."""
    pairer = StampPairer(slop=0.010)
    assert pairer.add_depth(100 * MS, 'd100') == []
    assert pairer.add_colour(100 * MS, 'c100') == [('c100', 'd100')]
    # colour waits until a depth at or after its stamp arrives, then takes the nearest
    assert pairer.add_colour(133 * MS, 'c133') == []
    assert pairer.add_depth(131 * MS, 'd131') == []
    assert pairer.add_depth(140 * MS, 'd140') == [('c133', 'd131')]
    assert (pairer.colour_received, pairer.paired, pairer.unmatched) == (2, 2, 0)


def test_pairer_counts_colour_frames_without_depth_in_slop():
    """Pairer counts colour frames without depth in slop."""
    pairer = StampPairer(slop=0.005)
    pairer.add_depth(100 * MS, 'd100')
    assert pairer.add_colour(90 * MS, 'c90') == []  # 10 ms from the nearest depth: unmatched
    assert pairer.unmatched == 1
    assert pairer.add_colour(110 * MS, 'c110') == []
    assert pairer.add_depth(120 * MS, 'd120') == []  # 10 ms either side: unmatched
    assert pairer.unmatched == 2


def test_pairer_bounds_the_waiting_colour_frames():
    """Pairer bounds the waiting colour frames."""
    pairer = StampPairer(slop=0.01, queue_size=3)
    for i in range(5):  # depth stream stopped
        assert pairer.add_colour(i * 33 * MS, f'c{i}') == []
    assert pairer.unmatched == 2  # the oldest two fell out of the queue
    assert pairer.add_depth(4 * 33 * MS, 'd4') == [('c4', 'd4')]
    assert pairer.unmatched == 4
    with pytest.raises(ValueError):
        StampPairer(slop=-1)


def test_pairer_serves_a_faster_colour_stream_from_one_depth_frame():
    """Pairer serves a faster colour stream from one depth frame."""
    pairer = StampPairer(slop=0.02)
    pairer.add_depth(100 * MS, 'd')
    assert pairer.add_colour(95 * MS, 'a') == [('a', 'd')]
    assert pairer.add_colour(99 * MS, 'b') == [('b', 'd')]


# --------------------------------------------------------------------------- statistics


def test_stats_window_rates_medians_and_latency():
    """Stats window rates medians and latency."""
    window = StatsWindow(now=0.0)
    window.input_seen(1.5)
    for inference, latency in ((10.0, 30.0), (12.0, 40.0), (11.0, 90.0)):
        window.frame_done(inference, latency)
    counts = SlotCounts(received=20, rejected=2, dropped=5, processed=3, failed=0, pending=1)
    stats = window.report(2.0, counts)
    assert stats.period_s == 2.0 and stats.input_hz == 10.0 and stats.processed_hz == 1.5
    assert (stats.dropped, stats.rejected, stats.failed) == (5, 2, 0)
    assert stats.inference_ms == 11.0 and stats.latency_ms == 40.0
    assert stats.latency_max_ms == 90.0 and stats.since_input_s == 0.5
    assert stats.drop_ratio == 0.25
    later = window.report(4.0, counts)  # nothing new
    assert later.input_hz == 0 and later.dropped == 0 and np.isnan(later.latency_ms)


def _stats(**kw):
    base = {'period_s': 1.0, 'input_hz': 30.0, 'processed_hz': 30.0, 'dropped': 0, 'rejected': 0,
            'failed': 0, 'inference_ms': 10.0, 'latency_ms': 20.0, 'latency_max_ms': 30.0,
            'since_input_s': 0.01}
    base.update(kw)
    return WindowStats(**base)


def test_diagnostic_levels():
    """Diagnostic levels."""
    assert diagnostic_level(_stats(), 5.0, 0.5) == (OK, 'ok')
    level, text = diagnostic_level(_stats(input_hz=0.0, processed_hz=0.0, since_input_s=7.0),
                                   5.0, 0.5)
    assert level == WARN and 'no input image for 7.0 s' in text
    level, text = diagnostic_level(_stats(since_input_s=float('inf'), input_hz=0.0), 5.0, 0.5)
    assert level == WARN and 'no input image received yet' in text
    level, text = diagnostic_level(_stats(dropped=20, processed_hz=10.0), 5.0, 0.5)
    assert level == WARN and 'dropping 67%' in text
    level, text = diagnostic_level(_stats(failed=3, processed_hz=0.0), 5.0, 0.5, 'CUDA OOM')
    assert level == ERROR and 'CUDA OOM' in text


def test_log_throttle():
    """Log throttle."""
    throttle = LogThrottle()
    assert throttle.check('a', 0.0, 5.0) == 0
    assert throttle.check('a', 1.0, 5.0) is None
    assert throttle.check('b', 1.0, 5.0) == 0  # keys are independent
    assert throttle.check('a', 2.0, 5.0) is None
    assert throttle.check('a', 5.5, 5.0) == 2  # two suppressed since
    assert throttle.check('a', 5.6, 0.0) == 0  # period 0: log every one
