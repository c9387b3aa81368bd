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

"""The Segmenter, its preprocessing round trips and its backends (torch, onnxruntime, TensorRT)."""

import importlib
import sys

import cv2
from enet_ros.inference import Segmenter
from enet_ros.inference.backends import backend_class, BACKENDS
from enet_ros.inference.export import sample_images
from enet_ros.inference.preprocess import (class_ids_and_confidence, EndToEnd, Normalizer,
                                           plan_resize, SegmentationHead, Workspace)
from enet_ros.model.checkpoint import (CheckpointMeta, ClassInfo, load_model, Preprocessing,
                                       save_checkpoint)
from enet_ros.model.enet import ENet, ENetArch
import numpy as np
import pytest
import torch


def random_enet(num_classes=3, seed=0, **arch):
    """Make a paper-layout ENet with random weights and plausible BatchNorm statistics (eval)."""
    torch.manual_seed(seed)
    model = ENet(ENetArch(num_classes=num_classes, **arch)).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
        if isinstance(module, torch.nn.PReLU):
            module.weight.data.uniform_(0.0, 0.3)
    return model


def make_meta(num_classes, resolution=(64, 48), policy='stretch', order='RGB',
              mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), **arch):
    names = tuple(f'class{i}' for i in range(num_classes))
    colors = tuple((i % 256, (7 * i) % 256, (13 * i) % 256) for i in range(num_classes))
    return CheckpointMeta(ENetArch(num_classes=num_classes, **arch), ClassInfo(names, colors),
                          Preprocessing(order, 1 / 255, mean, std, resolution, policy))


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    """Write a 3-class paper-variant checkpoint (random weights) at 64x48, stretch policy."""
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pt'
    save_checkpoint(path, random_enet(3), make_meta(3, mean=(0.4, 0.45, 0.5),
                                                    std=(0.25, 0.25, 0.25)))
    return path


class IdentityENet(ENet):
    """An ENet whose logits are its (normalised) input: class c wins where channel c is largest.

    It lets tests check the geometry of preprocessing and postprocessing exactly.
    """

    def forward(self, x):  # noqa: D102
        return x


def identity_model(resolution, policy, order='RGB'):
    model = IdentityENet(ENetArch(num_classes=3)).eval()
    model.meta = make_meta(3, resolution, policy, order)
    return model


def test_letterbox_round_trip_puts_a_drawn_mask_back_in_place():
    # A 200x120 image (wide) into a 96x96 network input: letterbox scales by 0.48 and pads top and
    # bottom. A red rectangle (class 0) on blue (class 2) must come back at its pixels.
    image = np.zeros((120, 200, 3), np.uint8)
    image[..., 2] = 255
    image[30:90, 50:130] = (255, 0, 0)
    seg = Segmenter(identity_model((96, 96), 'letterbox'), warmup=False)
    plan = seg.plan(120, 200)
    assert plan.policy == 'letterbox' and plan.net_hw == (96, 96)
    top, left, ch, cw = plan.content
    assert (ch, cw) == (58, 96) and left == 0 and top == (96 - 58) // 2
    x = seg.network_input([image])
    assert tuple(x.shape) == (1, 3, 96, 96)
    assert float(x[0, :, :top].abs().max()) == 0.0  # padding is zero in the normalised space
    result = seg(image)
    assert result.class_ids.shape == (120, 200) and result.class_ids.dtype == np.uint8
    expected = np.full((120, 200), 2, np.uint8)
    expected[30:90, 50:130] = 0
    wrong = result.class_ids != expected
    # Bilinear resampling may move the edge by one pixel; everything else is exact.
    inner = np.zeros_like(wrong)
    inner[32:88, 52:128] = True
    outer = np.ones_like(wrong)
    outer[27:93, 47:133] = False
    assert not wrong[inner].any() and not wrong[outer].any()
    assert wrong.sum() <= 2 * (60 + 80) * 2


def test_stretch_and_native_round_trip():
    image = np.zeros((50, 70, 3), np.uint8)
    image[..., 1] = 200
    image[10:40, 20:60] = (250, 0, 0)
    for policy, resolution in (('stretch', (32, 32)), ('native', None)):
        seg = Segmenter(identity_model(resolution, policy), warmup=False)
        ids = seg(image).class_ids
        assert ids.shape == (50, 70)
        assert (ids[12:38, 22:58] == 0).all() and (ids[:8] == 1).all() and (ids[:, 62:] == 1).all()
    native = Segmenter(identity_model(None, 'native'), warmup=False)
    expected = np.where(image[..., 0] > image[..., 1], 0, 1)
    np.testing.assert_array_equal(native(image).class_ids, expected)


def test_resolution_with_the_native_policy_is_a_clear_error():
    """A resolution the native policy would silently ignore is refused, naming the fix."""
    with pytest.raises(ValueError, match='no effect with the native'):
        Segmenter(identity_model(None, 'native'), resolution=(64, 48), warmup=False)
    with pytest.raises(ValueError, match="resize_policy 'stretch' or 'letterbox'"):
        Segmenter(identity_model((32, 32), 'stretch'), resize_policy='native',
                  resolution=(32, 32), warmup=False)


def test_plan_resize_letterbox_is_centred_and_keeps_aspect():
    plan = plan_resize((480, 640), (320, 320), 'letterbox')
    assert plan.content == (40, 0, 240, 320)
    plan = plan_resize((100, 50), (64, 64), 'letterbox')
    assert plan.content == (0, 16, 64, 32)
    with pytest.raises(ValueError, match='resize policy'):
        plan_resize((10, 10), (8, 8), 'crop')


def test_bgr_input_order_gives_the_rgb_result(tiny_ckpt):
    image = sample_images(1, 48, 64, seed=3)[0]
    rgb = Segmenter(tiny_ckpt, warmup=False)(image)
    bgr_image = np.ascontiguousarray(image[..., ::-1])
    bgr = Segmenter(tiny_ckpt, input_order='BGR', warmup=False)(bgr_image)
    np.testing.assert_array_equal(rgb.class_ids, bgr.class_ids)
    np.testing.assert_allclose(rgb.confidence, bgr.confidence, atol=1e-6)
    with pytest.raises(ValueError, match='channel order'):
        Segmenter(tiny_ckpt, input_order='RGBA', warmup=False)


def test_batch_of_mixed_sizes_equals_single_calls(tiny_ckpt):
    seg = Segmenter(tiny_ckpt, resize_policy='letterbox', warmup=False)
    images = [sample_images(1, 48, 64, 0)[0], sample_images(1, 37, 53, 1)[0],
              sample_images(1, 48, 64, 2)[0], sample_images(1, 90, 41, 3)[0]]
    results = seg(images)
    assert len(results) == 4
    for image, result in zip(images, results):
        single = seg(image)
        assert result.class_ids.shape == image.shape[:2]
        assert result.confidence.shape == image.shape[:2]
        np.testing.assert_array_equal(result.class_ids, single.class_ids)
        np.testing.assert_allclose(result.confidence, single.confidence, atol=1e-5)
    assert seg([]) == []


def test_probabilities_confidence_and_dtypes(tiny_ckpt):
    seg = Segmenter(tiny_ckpt, warmup=False)
    image = sample_images(1, 30, 45, 5)[0]
    result = seg(image, return_probabilities=True)
    probs = result.probabilities
    assert probs.shape == (3, 30, 45) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.class_ids, probs.argmax(axis=0))
    np.testing.assert_allclose(result.confidence, probs.max(axis=0), atol=1e-6)
    assert result.confidence.dtype == np.float32
    assert 0.0 <= result.confidence.min() and result.confidence.max() <= 1.0
    plain = seg(image)
    assert plain.probabilities is None
    np.testing.assert_array_equal(plain.class_ids, result.class_ids)
    np.testing.assert_allclose(plain.confidence, result.confidence, atol=1e-6)
    assert set(plain.timings_ms) == {'preprocess', 'model', 'postprocess'}


def test_class_ids_are_uint16_above_255_classes(tmp_path):
    path = tmp_path / 'many.pt'
    save_checkpoint(path, random_enet(300), make_meta(300, resolution=(24, 16)))
    result = Segmenter(path, warmup=False)(sample_images(1, 16, 24, 0)[0])
    assert result.class_ids.dtype == np.uint16
    assert result.class_ids.max() < 300
    path = tmp_path / 'uint8.pt'
    save_checkpoint(path, random_enet(255), make_meta(255, resolution=(24, 16)))
    result = Segmenter(path, warmup=False)(sample_images(1, 16, 24, 0)[0])
    assert result.class_ids.dtype == np.uint8


@pytest.mark.parametrize('num_classes', [1, 2, 3, 12, 255, 256])
def test_class_ids_and_confidence_match_argmax_and_softmax(num_classes):
    torch.manual_seed(num_classes)
    logits = torch.randn(2, num_classes, 9, 11)
    logits[:, :, 0, 0] = 1.5  # an exact tie across all channels: the first wins
    if num_classes > 1:
        logits[:, -1, 1, 1] = logits[:, 0, 1, 1] + 10
    workspace = Workspace()
    for _ in range(2):  # the second call reuses the workspace
        ids, conf, probs = class_ids_and_confidence(logits, workspace=workspace)
        assert probs is None
        torch.testing.assert_close(ids.long(), logits.argmax(1))
        torch.testing.assert_close(conf, torch.softmax(logits, 1).amax(1), atol=1e-6, rtol=0)
    assert ids.dtype == (torch.uint8 if num_classes <= 255 else torch.int32)
    head_ids, head_conf = SegmentationHead()(logits)
    torch.testing.assert_close(head_ids.long(), logits.argmax(1))
    torch.testing.assert_close(head_conf, conf, atol=1e-6, rtol=0)


def test_end_to_end_module_equals_the_separate_steps(tiny_ckpt):
    model = load_model(tiny_ckpt)
    prep = model.meta.preprocessing
    images = torch.from_numpy(sample_images(2, 48, 64, 7))
    normalizer = Normalizer(prep, 'BGR')
    with torch.no_grad():
        ids, conf = EndToEnd(normalizer, model, torch.float32)(images)
        logits = model(normalizer(images.permute(0, 3, 1, 2)))
    ref_ids, ref_conf, _ = class_ids_and_confidence(logits)
    torch.testing.assert_close(ids, ref_ids)
    torch.testing.assert_close(conf, ref_conf, atol=1e-6, rtol=0)


def test_segmenter_leaves_the_callers_model_unfused(tiny_ckpt):
    model = load_model(tiny_ckpt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seg = Segmenter(model, warmup=False)
    seg(sample_images(1, 48, 64, 0)[0])
    assert not model.fused and model.training is False
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert seg.backend.model.fused


def test_torch_options_give_the_same_class_ids(tiny_ckpt):
    images = list(sample_images(2, 48, 64, 11))
    ref = Segmenter(tiny_ckpt, warmup=False, fuse=False, channels_last=False)(images)
    for options in ({'channels_last': True}, {'channels_last': False},
                    {'unpool_impl': 'pixel_shuffle'}):
        got = Segmenter(tiny_ckpt, warmup=False, **options)(images)
        for a, b in zip(ref, got):
            assert np.mean(a.class_ids == b.class_ids) >= 0.999
            np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-3)
    with pytest.raises(ValueError, match='unpool_impl'):
        Segmenter(tiny_ckpt, warmup=False, unpool_impl='scatter')
    with pytest.raises(ValueError, match='compile_mode'):
        Segmenter(tiny_ckpt, warmup=False, compile_mode='always')


def test_unknown_backend_device_and_precision_are_clear_errors(tiny_ckpt):
    with pytest.raises(ValueError,
                       match="unknown backend 'openvino'.*torch, onnxruntime, tensorrt"):
        Segmenter(tiny_ckpt, backend='openvino')
    with pytest.raises(ValueError, match='precision'):
        Segmenter(tiny_ckpt, precision='int8')
    with pytest.raises(ValueError, match="device 'tpu' is not 'cpu', 'cuda' or 'cuda:N'"):
        Segmenter(tiny_ckpt, device='tpu')
    with pytest.raises(ValueError, match="device 'cuda:x' is not"):
        Segmenter(tiny_ckpt, device='cuda:x')
    with pytest.raises(ValueError, match='resize_policy'):
        Segmenter(tiny_ckpt, resize_policy='crop')
    seg = Segmenter(tiny_ckpt, warmup=False)
    with pytest.raises(ValueError, match='uint8'):
        seg(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match='3-channel'):
        seg(np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize('resolution, error, text', [
    ((0, 0), ValueError, 'two positive whole numbers'),
    ((-1, 5), ValueError, 'two positive whole numbers'),
    ((64, 48, 3), ValueError, 'must have 2 values'),
    (64, TypeError, 'resolution must be a .width, height. pair'),
    ((64.5, 48.2), ValueError, 'two positive whole numbers'),
])
def test_bad_resolution_names_the_argument(tiny_ckpt, resolution, error, text):
    with pytest.raises(error, match=text):
        Segmenter(tiny_ckpt, resolution=resolution, warmup=False)


def test_images_that_are_not_arrays_are_named(tiny_ckpt):
    seg = Segmenter(tiny_ckpt, warmup=False)
    with pytest.raises(TypeError, match='images must be an .H, W, 3. uint8 NumPy array.*NoneType'):
        seg(None)


def test_a_directory_as_weights_is_named(tmp_path):
    from enet_ros.model.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match='is a directory, expected a checkpoint file'):
        Segmenter(tmp_path)


def test_backend_options_are_type_checked(tiny_ckpt, tmp_path):
    seg = Segmenter(tiny_ckpt, channels_last='no', warmup=False)
    assert seg.backend.memory_format == torch.contiguous_format
    seg = Segmenter(tiny_ckpt, channels_last='1', warmup=False)
    assert seg.backend.memory_format == torch.channels_last
    with pytest.raises(ValueError, match="channels_last='maybe' is not a boolean"):
        Segmenter(tiny_ckpt, channels_last='maybe', warmup=False)
    with pytest.raises(ValueError, match="intra_op_threads='abc' is not an integer"):
        Segmenter(tiny_ckpt, backend='onnxruntime', intra_op_threads='abc', warmup=False,
                  engine_cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match='intra_op_threads=-5 must be >= 0'):
        Segmenter(tiny_ckpt, backend='onnxruntime', intra_op_threads=-5, warmup=False,
                  engine_cache_dir=str(tmp_path))
    seg = Segmenter(tiny_ckpt, backend='onnxruntime', intra_op_threads='2', warmup=False,
                    engine_cache_dir=str(tmp_path))
    assert seg.backend.options.intra_op_num_threads == 2


def test_onnxruntime_providers_as_text_and_bad_lists(tiny_ckpt, tmp_path):
    for providers in ('cpu', 'CPU', ' cpu, ', ['CPUExecutionProvider']):
        seg = Segmenter(tiny_ckpt, backend='onnxruntime', providers=providers, warmup=False,
                        engine_cache_dir=str(tmp_path))
        assert [p[0] for p in seg.backend.providers] == ['CPUExecutionProvider']
    for providers in ([], ''):
        with pytest.raises(ValueError, match='names no provider'):
            Segmenter(tiny_ckpt, backend='onnxruntime', providers=providers, warmup=False,
                      engine_cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="provider 'gpu' is unknown: use the short names cpu"):
        Segmenter(tiny_ckpt, backend='onnxruntime', providers=['gpu'], warmup=False,
                  engine_cache_dir=str(tmp_path))
    with pytest.raises(TypeError, match='providers must be a list of provider names'):
        Segmenter(tiny_ckpt, backend='onnxruntime', providers=5, warmup=False,
                  engine_cache_dir=str(tmp_path))


def test_missing_optional_package_names_it(monkeypatch):
    # Simulate a machine without onnxruntime: importing it fails.
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    monkeypatch.delitem(sys.modules, 'enet_ros.inference.backends.ort_backend', raising=False)
    with pytest.raises(ImportError, match="backend 'onnxruntime' needs the Python package "
                                          "'onnxruntime'.*pip install onnxruntime"):
        backend_class('onnxruntime')
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    monkeypatch.delitem(sys.modules, 'enet_ros.inference.backends.tensorrt_backend',
                        raising=False)
    with pytest.raises(ImportError, match="needs the Python package 'tensorrt'"):
        backend_class('tensorrt')
    assert set(BACKENDS) == {'torch', 'onnxruntime', 'tensorrt'}


def test_onnxruntime_matches_torch_and_caches_its_export(tiny_ckpt, tmp_path, monkeypatch):
    images = [sample_images(1, 48, 64, 1)[0], sample_images(1, 48, 64, 2)[0],
              sample_images(1, 35, 50, 3)[0]]
    ref = Segmenter(tiny_ckpt, warmup=False)(images)
    seg = Segmenter(tiny_ckpt, backend='onnxruntime', engine_cache_dir=str(tmp_path))
    assert 'CPUExecutionProvider' in seg.backend.description
    got = seg(images)
    for a, b in zip(ref, got):
        assert a.class_ids.shape == b.class_ids.shape
        assert np.mean(a.class_ids == b.class_ids) >= 0.999
        np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-3)
    files = sorted(p.name for p in tmp_path.glob('*.onnx'))
    assert files == [seg.backend.onnx_path(48, 64).split('/')[-1]]  # one export per network size
    # A second process (here: a second backend) loads the cached file instead of exporting again.
    ort_backend = importlib.import_module('enet_ros.inference.backends.ort_backend')

    def no_export(*args, **kwargs):
        raise AssertionError('exported again although the cache holds the graph')
    monkeypatch.setattr(ort_backend, 'export_onnx', no_export)
    again = Segmenter(tiny_ckpt, backend='onnxruntime', engine_cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again(images[0]).class_ids, got[0].class_ids)


def test_onnxruntime_refuses_what_it_cannot_run(tiny_ckpt, tmp_path):
    with pytest.raises(ValueError, match='fp16 only through the TensorRT provider'):
        Segmenter(tiny_ckpt, backend='onnxruntime', precision='fp16', warmup=False,
                  engine_cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match='providers'):
        Segmenter(tiny_ckpt, backend='onnxruntime', providers=['rocm'], warmup=False,
                  engine_cache_dir=str(tmp_path))


@pytest.mark.slow
def test_compiled_torch_backend_matches_eager(tiny_ckpt, tmp_path):
    """Check that AOTInductor (cached on disk) gives the eager class ids; takes a minute."""
    pytest.importorskip('torch._inductor', reason='torch without inductor')
    images = list(sample_images(1, 48, 64, 4))
    ref = Segmenter(tiny_ckpt, resize_policy='native', warmup=False)(images)[0]
    seg = Segmenter(tiny_ckpt, resize_policy='native', warmup=False, compile_mode='aot',
                    engine_cache_dir=str(tmp_path))
    got = seg(images)[0]  # end to end in compiled graphs (native size): network, then head
    assert np.mean(got.class_ids == ref.class_ids) >= 0.999
    np.testing.assert_allclose(got.confidence, ref.confidence, atol=1e-3)
    assert len(list(tmp_path.glob('*.pt2'))) == 2
    logits = seg.backend.run(seg.network_input(images))  # the float-input logits graph
    assert tuple(logits.shape) == (1, 3, 48, 64)
    assert len(list(tmp_path.glob('*.pt2'))) == 3
    # A new backend loads the cached packages instead of compiling again.
    again = Segmenter(tiny_ckpt, resize_policy='native', warmup=False, compile_mode='aot',
                      engine_cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again(images)[0].class_ids, got.class_ids)
    assert len(list(tmp_path.glob('*.pt2'))) == 3


@pytest.mark.data
@pytest.mark.slow
def test_davidtvs_checkpoint_onnxruntime_parity(weights_dir, tmp_path):
    """The real converted davidtvs 2018 checkpoint: torch and onnxruntime agree at 480x360."""
    from enet_ros.model.convert import convert_file
    model, meta = convert_file(weights_dir / 'davidtvs_ENet_CamVid_2018-03-04_state_dict.pth')
    path = tmp_path / 'davidtvs.pt'
    save_checkpoint(path, model, meta)
    images = list(sample_images(2, 360, 480, 0))
    ref = Segmenter(path, warmup=False)(images)
    got = Segmenter(path, backend='onnxruntime', engine_cache_dir=str(tmp_path))(images)
    for a, b in zip(ref, got):
        assert np.mean(a.class_ids == b.class_ids) >= 0.999


@pytest.mark.gpu
def test_cuda_fp16_cuda_graphs_match_cpu_fp32(tiny_ckpt):
    images = list(sample_images(2, 48, 64, 6))
    ref = Segmenter(tiny_ckpt, warmup=False)(images)
    seg = Segmenter(tiny_ckpt, device='cuda', precision='fp16')
    assert 'cuda-graphs' in seg.backend.description
    for _ in range(2):  # capture, then replay
        got = seg(images)
    for a, b in zip(ref, got):
        assert np.mean(a.class_ids == b.class_ids) >= 0.99
        np.testing.assert_allclose(a.confidence, b.confidence, atol=2e-2)


@pytest.mark.gpu
def test_onnxruntime_cuda_provider_when_installed(tiny_ckpt, tmp_path):
    import onnxruntime
    if 'CUDAExecutionProvider' not in onnxruntime.get_available_providers():
        pytest.skip('this onnxruntime has no CUDAExecutionProvider (needs onnxruntime-gpu)')
    images = list(sample_images(1, 48, 64, 8))
    ref = Segmenter(tiny_ckpt, warmup=False)(images)[0]
    got = Segmenter(tiny_ckpt, backend='onnxruntime', device='cuda',
                    engine_cache_dir=str(tmp_path))(images)[0]
    assert np.mean(ref.class_ids == got.class_ids) >= 0.999


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_tensorrt_engine_is_built_cached_and_matches_torch(tiny_ckpt, tmp_path):
    pytest.importorskip('tensorrt', reason='the tensorrt Python package is not installed')
    images = list(sample_images(1, 48, 64, 9))
    ref = Segmenter(tiny_ckpt, warmup=False)(images)[0]
    seg = Segmenter(tiny_ckpt, backend='tensorrt', device='cuda', engine_cache_dir=str(tmp_path))
    got = seg(images)[0]
    assert np.mean(ref.class_ids == got.class_ids) >= 0.999
    engines = list(tmp_path.glob('*.engine'))
    assert len(engines) == 1
    again = Segmenter(tiny_ckpt, backend='tensorrt', device='cuda', engine_cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again(images)[0].class_ids, got.class_ids)
    assert list(tmp_path.glob('*.engine')) == engines


def test_tensorrt_backend_without_tensorrt_is_a_clear_error(tiny_ckpt):
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="'tensorrt'"):
            Segmenter(tiny_ckpt, backend='tensorrt', device='cpu')
    else:
        pytest.skip('tensorrt is installed here; the missing-package error cannot be shown')


def test_resize_uses_opencv_convention():
    # Our bilinear resize (align_corners=False) equals OpenCV's INTER_LINEAR on upsampling.
    image = sample_images(1, 12, 16, 2)[0]
    seg = Segmenter(identity_model((32, 24), 'stretch'), warmup=False)
    x = seg.network_input([image])[0].permute(1, 2, 0).numpy() * 255.0
    ref = cv2.resize(image.astype(np.float32), (32, 24), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(x, ref, atol=1e-3)
