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

"""ONNX export without MaxUnpool: structure, metadata and parity with PyTorch."""

import json

from enet_ros.cli import main as cli
from enet_ros.inference.export import (check_graph, export_onnx, ExportError,
                                       leaky_relu_for_scalar_prelu, max_opset, model_sha256,
                                       read_metadata, sample_images)
from enet_ros.model.checkpoint import load_model, save_checkpoint
from enet_ros.model.enet import ENet, ENetArch
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_inference import make_meta, random_enet
import torch

DAVIDTVS_2018 = {'variant': 'davidtvs-2018', 'decoder_activation': 'prelu',
                 'prelu_per_channel': False, 'initial_pool_kernel': 3, 'downsample_pool_kernel': 3,
                 'expansion_activation': True}


def model_with_meta(num_classes=3, resolution=(64, 48), seed=0, **arch):
    model = random_enet(num_classes, seed, **arch)
    model.meta = make_meta(num_classes, resolution, **arch)
    return model


def op_types(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def assert_passed(report):
    assert report.passed, '\n'.join(report.lines())
    for case in report.cases:
        assert case.argmax_agreement >= 0.999
        assert case.max_abs_diff <= 1e-3
        assert case.switch_agreement >= 0.99


def test_paper_variant_dynamic_batch_has_no_maxunpool_and_matches(tmp_path):
    model = model_with_meta()
    path = tmp_path / 'paper.onnx'
    report = export_onnx(model, path, dynamic_batch=True)
    assert_passed(report)
    assert [(c.batch, c.width, c.height) for c in report.cases] == [(1, 64, 48), (3, 64, 48)]
    ops = op_types(path)
    assert 'MaxUnpool' not in ops
    assert all(len([o for o in n.output if o]) == 1 for n in onnx.load(str(path)).graph.node
               if n.op_type == 'MaxPool')
    assert {'DepthToSpace', 'ArgMax', 'Conv', 'ConvTranspose'} <= set(ops)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version >= 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert not model.fused  # the caller's model is untouched


def test_davidtvs_2018_layout_with_3x3_pooling_exports(tmp_path):
    model = model_with_meta(5, (48, 40), **DAVIDTVS_2018)
    path = tmp_path / 'd.onnx'
    report = export_onnx(model, path, dynamic_batch=True)
    assert_passed(report)
    ops = op_types(path)
    assert 'MaxUnpool' not in ops and 'Where' in ops and 'DepthToSpace' in ops
    assert 'LeakyRelu' in ops  # single-slope PReLUs exported as the equal LeakyRelu


@pytest.mark.parametrize('size', [(61, 45), (33, 17)])
def test_sizes_not_divisible_by_8(tmp_path, size):
    model = model_with_meta()
    path = tmp_path / 'odd.onnx'
    report = export_onnx(model, path, size=size, dynamic_batch=True)
    assert_passed(report)
    assert report.size == size
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    out = session.run(None, {'input': np.zeros((2, 3, size[1], size[0]), np.float32)})[0]
    assert out.shape == (2, 3, size[1], size[0])


def test_fixed_batch_and_metadata(tmp_path):
    model = model_with_meta(4, (40, 32))
    path = tmp_path / 'fixed.onnx'
    report = export_onnx(model, path, batch=2)
    assert_passed(report)
    assert [c.batch for c in report.cases] == [2]
    meta = read_metadata(path)
    assert meta['model_sha256'] == model_sha256(model) == report.model_sha256
    assert json.loads(meta['preprocessing'])['std'] == [1.0, 1.0, 1.0]
    assert json.loads(meta['classes'])['names'] == ['class0', 'class1', 'class2', 'class3']
    assert json.loads(meta['input']) == {'name': 'input', 'width': 40, 'height': 32,
                                         'dynamic_batch': False, 'layout': 'NCHW',
                                         'dtype': 'float32'}
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 2


def test_model_hash_changes_with_any_weight():
    a = random_enet(3, seed=1)
    b = random_enet(3, seed=1)
    assert model_sha256(a) == model_sha256(b)
    with torch.no_grad():
        b.fullconv.weight[0, 0, 0, 0] += 1e-6
    assert model_sha256(a) != model_sha256(b)


def test_leaky_relu_replacement_is_exact():
    model = random_enet(3, **DAVIDTVS_2018)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        ref = model(x)
        assert leaky_relu_for_scalar_prelu(model) > 0
        torch.testing.assert_close(model(x), ref, atol=0, rtol=0)


def test_bad_arguments_and_forbidden_nodes(tmp_path):
    model = model_with_meta()
    with pytest.raises(ValueError, match='opset'):
        export_onnx(model, tmp_path / 'x.onnx', opset=13)
    model.meta = make_meta(3, None)
    with pytest.raises(ValueError, match='--size'):
        export_onnx(model, tmp_path / 'x.onnx')
    node = onnx.helper.make_node('MaxUnpool', ['x', 'i'], ['y'], kernel_shape=[2, 2],
                                 strides=[2, 2])
    graph = onnx.helper.make_graph(
        [node], 'g',
        [onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1, 1, 2, 2]),
         onnx.helper.make_tensor_value_info('i', onnx.TensorProto.INT64, [1, 1, 2, 2])],
        [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1, 1, 4, 4])])
    bad = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 17)])
    with pytest.raises(ExportError, match='MaxUnpool'):
        check_graph(bad)


def test_opset_above_what_torch_writes_fails_up_front(tmp_path, capsys):
    assert max_opset() >= 17
    with pytest.raises(ValueError, match=r'opset 99 is newer than this torch / onnx can write'):
        export_onnx(model_with_meta(), tmp_path / 'x.onnx', opset=99)
    ckpt = tmp_path / 'tiny.pt'
    save_checkpoint(ckpt, random_enet(3), make_meta(3))
    assert cli(['export', '--weights', str(ckpt), '--out', str(tmp_path / 'y.onnx'),
                '--opset', '99']) == 1
    err = capsys.readouterr().err
    assert f'choose an opset in 17..{max_opset()}' in err and len(err.splitlines()) == 1


def test_output_that_is_a_directory_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match='is a directory: give a file name'):
        export_onnx(model_with_meta(), tmp_path, size=(32, 24))
    ckpt = tmp_path / 'tiny.pt'
    save_checkpoint(ckpt, random_enet(3), make_meta(3))
    assert cli(['export', '--weights', str(ckpt), '--out', str(tmp_path), '--size',
                '32x24']) == 1
    assert "--out '" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['tiny.pt']


def test_unfused_reference_with_native_pooling_is_what_we_compare_to(tmp_path):
    # The export folds BatchNorm and switches to the pixel-shuffle pooling on a copy; the sample
    # images the parity uses are deterministic.
    model = model_with_meta()
    np.testing.assert_array_equal(sample_images(2, 10, 12, 5), sample_images(2, 10, 12, 5))
    report = export_onnx(model, tmp_path / 'a.onnx', verify=False)
    assert not report.verified and not report.passed
    assert 'parity: not verified' in report.lines()


def test_cli_export_prints_parity_and_writes_report(tmp_path, capsys):
    ckpt = tmp_path / 'm.pt'
    save_checkpoint(ckpt, random_enet(3), make_meta(3))
    out = tmp_path / 'm.onnx'
    report = tmp_path / 'parity.json'
    rc = cli(['export', '--weights', str(ckpt), '--out', str(out), '--size', '57x41',
              '--dynamic-batch', '--report', str(report)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'parity batch 1 57x41' in text and 'parity batch 3 57x41' in text
    assert 'MaxUnpool nodes: 0' in text and 'parity: PASS' in text
    data = json.loads(report.read_text())
    assert data['passed'] and data['size'] == [57, 41]
    assert 'MaxUnpool' not in op_types(out)
    # The exported file runs in onnxruntime with the checkpoint's preprocessing.
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    assert session.get_inputs()[0].name == 'input'
    rc = cli(['export', '--weights', str(tmp_path / 'missing.pt'), '--out', str(out)])
    assert rc == 1


def test_loaded_checkpoint_and_path_export_the_same(tmp_path):
    ckpt = tmp_path / 'm.pt'
    save_checkpoint(ckpt, random_enet(3, seed=4), make_meta(3))
    a = export_onnx(ckpt, tmp_path / 'a.onnx', verify=False)
    b = export_onnx(load_model(ckpt), tmp_path / 'b.onnx', verify=False)
    assert a.model_sha256 == b.model_sha256


@pytest.mark.data
@pytest.mark.slow
def test_davidtvs_checkpoint_export_640x480_dynamic(weights_dir, tmp_path):
    """The real converted davidtvs 2018 checkpoint at 640x480 and at 641x479, batch 1 and 3."""
    from enet_ros.model.convert import convert_file
    model, meta = convert_file(weights_dir / 'davidtvs_ENet_CamVid_2018-03-04_state_dict.pth')
    model.meta = meta
    for size in ((640, 480), (641, 479)):
        report = export_onnx(model, tmp_path / 'davidtvs.onnx', size=size, dynamic_batch=True)
        assert_passed(report)


def test_enet_without_meta_uses_default_preprocessing(tmp_path):
    model = ENet(ENetArch(num_classes=2)).eval()
    report = export_onnx(model, tmp_path / 'nometa.onnx', size=(32, 24))
    assert_passed(report)
    assert 'preprocessing' not in read_metadata(tmp_path / 'nometa.onnx')
