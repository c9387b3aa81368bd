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

"""Checkpoint format and conversion of every public ENet layout against its original graph."""

import copy
import json
import pickle

from enet_ros.classes import CAMVID, class_info_from_mapping
from enet_ros.cli import main as cli
from enet_ros.model import load_model, read_checkpoint, save_checkpoint
from enet_ros.model.checkpoint import CheckpointError, Preprocessing, unwrap_state_dict
from enet_ros.model.convert import convert_file, convert_state_dict, detect_layout
import pytest
from reference_enets import DavidtvsENet, NtkhoaENet, SeedENet
import torch

FILES = {
    'davidtvs-2018': (
        'davidtvs_ENet_CamVid_2018-03-04_state_dict.pth',
        lambda: DavidtvsENet(12, '2018'),
        1 / 255,
    ),
    'seed': ('iarunava_ckpt-enet_CamVid_epoch380.pth', lambda: SeedENet(12), 1 / 255),
    'ntkhoa95': ('ntkhoa95_best_model_CamVid_2022-04-19a.pth', lambda: NtkhoaENet(12), 1.0),
    'ntkhoa95-head': (
        'ntkhoa95_best_model_CamVid_2022-04-19b_HEAD.pth',
        lambda: NtkhoaENet(12),
        1.0,
    ),
}


def camvid_batch(shared_data, scale, size=(360, 480)):
    """Two real CamVid test images as a float batch (N, 3, H, W) in the layout's input scale."""
    from enet_ros.data import open_dataset

    ds = open_dataset(str(shared_data / 'camvid_segnet'), 'camvid', 'test')
    images = [ds.load(i)[0] for i in (0, 100)]
    x = torch.stack([torch.from_numpy(img).permute(2, 0, 1) for img in images]).float() * scale
    return torch.nn.functional.interpolate(x, size=size, mode='bilinear', align_corners=False)


def randomize_bn(model, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.4)
    return model.eval()


@pytest.mark.data
@pytest.mark.parametrize('name', sorted(FILES))
def test_converted_public_checkpoint_reproduces_its_original_graph(name, weights_dir, shared_data):
    filename, make_reference, scale = FILES[name]
    raw = torch.load(weights_dir / filename, map_location='cpu', weights_only=True)
    reference = make_reference()
    reference.load_state_dict(unwrap_state_dict(raw), strict=True)
    reference.eval()
    model, meta = convert_file(str(weights_dir / filename))
    assert meta.provenance['layout'] == name.replace('-head', '')
    x = camvid_batch(shared_data, scale)
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
        fully_fused = copy.deepcopy(model).fuse(keep_pool_inputs_exact=False)(x)
        fused = model.fuse()(x)
    assert got.shape == expected.shape == (2, 12, 360, 480)
    assert (got - expected).abs().max().item() <= 1e-4
    assert (fused - expected).abs().max().item() <= 1e-4
    # Folding everything may flip max-pooling winners among near-equal values: class ids still
    # agree.
    agree = (fully_fused.argmax(1) == expected.argmax(1)).float().mean().item()
    assert agree >= 0.9999


def test_davidtvs_current_layout_converts_exactly():
    """No public file of the current davidtvs layout is kept: its graph gets random weights."""
    reference = randomize_bn(DavidtvsENet(7, 'current'))
    state = reference.state_dict()
    assert detect_layout(state) == 'davidtvs'
    classes = class_info_from_mapping({'names': [f'c{i}' for i in range(7)]})
    model, meta = convert_state_dict(state, classes=classes)
    assert meta.arch.upsample_kernel == 2 and meta.arch.decoder_activation == 'relu'
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() <= 1e-4


@pytest.mark.parametrize('wrap', ['plain', 'state_dict', 'model', 'module.', '_orig_mod.', 'both'])
def test_wrapped_and_prefixed_checkpoints_are_unwrapped(wrap):
    reference = randomize_bn(SeedENet(12), seed=1)
    state = reference.state_dict()
    if wrap in ('module.', '_orig_mod.'):
        state = {wrap + k: v for k, v in state.items()}
    elif wrap == 'both':
        state = {'model': {'module._orig_mod.' + k: v for k, v in state.items()}, 'epoch': 3}
    elif wrap != 'plain':
        state = {wrap: state, 'epochs': 380}
    model, meta = convert_state_dict(state)
    assert meta.provenance['layout'] == 'seed'
    assert meta.provenance['needs_bn_repair'] is True
    assert 'bottleneck1_0.proj.bn' in meta.provenance['shared_batchnorm']
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() <= 1e-4


def test_unknown_layout_lists_the_keys_it_could_not_place():
    state = randomize_bn(NtkhoaENet(12)).state_dict()
    state['b10.extra_head.weight'] = torch.zeros(3)
    with pytest.raises(CheckpointError) as info:
        convert_state_dict(state)
    message = str(info.value)
    assert 'unknown ENet checkpoint layout' in message
    assert 'ntkhoa95' in message and 'b10.extra_head.weight' in message


def test_forced_wrong_layout_names_missing_keys():
    state = randomize_bn(NtkhoaENet(12)).state_dict()
    with pytest.raises(CheckpointError, match="layout 'seed'.*init.conv.weight"):
        convert_state_dict(state, layout='seed')


def test_class_count_mismatch_names_both_counts():
    state = randomize_bn(SeedENet(5)).state_dict()
    with pytest.raises(CheckpointError, match='predicts 5 classes but the class list has 12'):
        convert_state_dict(state, classes=CAMVID)
    with pytest.raises(CheckpointError, match='predicts 5 classes'):
        convert_state_dict(state)  # no --classes: only 12-class files default to CamVid


def test_checkpoint_round_trip(tmp_path):
    model, meta = convert_state_dict(randomize_bn(SeedENet(12), seed=2).state_dict())
    meta.provenance['metrics'] = {'miou': 0.5}
    path = tmp_path / 'model.pt'
    save_checkpoint(path, model, meta)
    raw = torch.load(path, map_location='cpu', weights_only=True)  # plain containers only
    assert raw['format'] == 'enet_ros.checkpoint' and raw['format_version'] == 1
    assert raw['classes']['names'][11] == 'void' and raw['classes']['ignore_index'] == 11
    assert raw['preprocessing']['resolution'] == [512, 512]
    loaded = load_model(path)
    assert not loaded.training
    assert loaded.meta.arch == meta.arch and loaded.meta.classes == meta.classes
    assert loaded.meta.preprocessing == meta.preprocessing
    assert loaded.meta.provenance['metrics'] == {'miou': 0.5}
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_unreadable_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_model(tmp_path / 'missing.pt')
    code = tmp_path / 'code.pt'
    with open(code, 'wb') as f:
        pickle.dump({'state_dict': {}, 'fn': print}, f)
    with pytest.raises(CheckpointError, match='weights_only=True'):
        load_model(code)
    third_party = tmp_path / 'raw.pth'
    torch.save(SeedENet(12).state_dict(), third_party)
    with pytest.raises(CheckpointError, match='enet-ros convert'):
        load_model(third_party)
    model, meta = convert_state_dict(SeedENet(12).state_dict())
    model.eval().fuse()
    with pytest.raises(CheckpointError, match='fused'):
        save_checkpoint(tmp_path / 'fused.pt', model, meta)


@pytest.mark.parametrize('field, value', [('scale', float('nan')),
                                          ('mean', (float('inf'), 0.0, 0.0)),
                                          ('std', (1.0, float('nan'), 1.0))])
def test_non_finite_preprocessing_is_refused_naming_the_field(field, value):
    with pytest.raises(CheckpointError, match=f'preprocessing {field} must be finite'):
        Preprocessing(**{field: value})


def test_convert_cli_refuses_non_finite_preprocessing(tmp_path, capsys):
    src = tmp_path / 'src.pth'
    torch.save(SeedENet(12).state_dict(), src)
    dst = tmp_path / 'out.pt'
    assert cli(['convert', str(src), str(dst), '--scale', 'nan']) == 1
    assert 'preprocessing scale must be finite' in capsys.readouterr().err
    assert cli(['convert', str(src), str(dst), '--mean', 'inf', '0', '0']) == 1
    assert 'preprocessing mean must be finite' in capsys.readouterr().err
    assert not dst.exists()


def test_directory_corrupt_and_empty_checkpoints_say_what_is_wrong(tmp_path, capsys):
    folder = tmp_path / 'weights.pt'
    folder.mkdir()
    with pytest.raises(CheckpointError, match='is a directory, expected a checkpoint file'):
        load_model(folder)
    assert cli(['convert', str(folder), str(tmp_path / 'out.pt')]) == 1
    assert 'is a directory, expected a checkpoint file' in capsys.readouterr().err
    files = {'random.pt': bytes(range(256)) * 8, 'json.pt': b'{"state_dict": {}}', 'empty.pt': b''}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match='is not a PyTorch checkpoint') as info:
            load_model(path)
        assert 'weights_only=False' not in str(info.value)  # torch's advice would not help
    with pytest.raises(CheckpointError, match='the file is empty'):
        load_model(tmp_path / 'empty.pt')


def test_save_checkpoint_refuses_a_directory_and_leaves_no_tmp_file(tmp_path, monkeypatch,
                                                                    capsys):
    model, meta = convert_state_dict(SeedENet(12).state_dict())
    folder = tmp_path / 'out'
    folder.mkdir()
    with pytest.raises(CheckpointError, match='is a directory'):
        save_checkpoint(folder, model, meta)
    src = tmp_path / 'src.pth'
    torch.save(SeedENet(12).state_dict(), src)
    assert cli(['convert', str(src), str(folder)]) == 1
    assert "DST '" in capsys.readouterr().err
    assert not (tmp_path / 'out.tmp').exists()

    def failing_replace(a, b):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr('enet_ros.model.checkpoint.os.replace', failing_replace)
    with pytest.raises(OSError, match='No space left'):
        save_checkpoint(tmp_path / 'model.pt', model, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out', 'src.pth']


def _three_class_source(tmp_path, classes_yaml):
    """Write a 3-class ntkhoa-layout source checkpoint and a classes file; return both paths."""
    src = tmp_path / 'src.pth'
    torch.save({'state_dict': randomize_bn(NtkhoaENet(3)).state_dict()}, src)
    classes = tmp_path / 'classes.yaml'
    classes.write_text(classes_yaml)
    return src, classes


def test_convert_cli_accepts_a_void_class_as_the_ignore_index(tmp_path):
    """A third-party model may output a void class that is also its ignore index (CamVid's)."""
    src, classes = _three_class_source(tmp_path, 'names: [background, box, void]\n'
                                                 'ignore_index: 2\n')
    dst = tmp_path / 'out.pt'
    assert cli(['convert', str(src), str(dst), '--classes', str(classes)]) == 0
    _, meta = read_checkpoint(dst)
    assert meta.classes.names == ('background', 'box', 'void')
    assert meta.classes.ignore_index == 2


def test_convert_cli_with_classes_file_and_preprocessing(tmp_path):
    src, classes = _three_class_source(
        tmp_path, 'names: [background, box, edge]\ncolors: [[0,0,0],[255,0,0],[0,255,0]]\n')
    dst = tmp_path / 'out.pt'
    rc = cli(
        [
            'convert',
            str(src),
            str(dst),
            '--classes',
            str(classes),
            '--resolution',
            '320x240',
            '--mean',
            '0.5',
            '0.5',
            '0.5',
            '--std',
            '0.25',
            '0.25',
            '0.25',
        ]
    )
    assert rc == 0
    _, meta = read_checkpoint(dst)
    assert meta.classes.names == ('background', 'box', 'edge')
    assert meta.preprocessing.resolution == (320, 240)
    assert meta.preprocessing.mean == (0.5, 0.5, 0.5) and meta.preprocessing.scale == 1.0
    assert cli(['convert', str(src), str(tmp_path / 'x.pt')]) == 1  # 3 classes, no --classes


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_davidtvs_2018_camvid_test_miou(weights_dir, shared_data, tmp_path):
    """Expected 0.533 +- 0.003 on the 233 CamVid test images (480x360, x/255, void ignored)."""
    ckpt = tmp_path / 'davidtvs.pt'
    assert cli(['convert', str(weights_dir / FILES['davidtvs-2018'][0]), str(ckpt)]) == 0
    report = tmp_path / 'report.json'
    rc = cli(['evaluate', '--weights', str(ckpt), '--data', str(shared_data / 'camvid_segnet'),
              '--format', 'camvid', '--split', 'test', '--report', str(report)])
    assert rc == 0
    data = json.loads(report.read_text())
    assert data['num_images'] == 233
    assert abs(data['miou'] - 0.533) <= 0.003
    assert 0.84 <= data['pixel_accuracy'] <= 0.87
    assert len(data['per_class_iou']) == 11 and 'void' not in data['per_class_iou']
    assert (tmp_path / 'report_confusion.png').stat().st_size > 10_000


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_seed_checkpoint_needs_and_gets_batchnorm_repair(weights_dir, shared_data, tmp_path):
    """Shared BatchNorm: 2.5% mIoU as is; repaired on the val images, at least 45% in eval mode."""
    camvid = shared_data / 'camvid_segnet'
    src = str(weights_dir / FILES['seed'][0])
    broken, repaired = tmp_path / 'broken.pt', tmp_path / 'repaired.pt'
    assert cli(['convert', src, str(broken)]) == 0
    assert cli(['convert', src, str(repaired), '--recalibrate-bn', str(camvid / 'val')]) == 0
    _, meta = read_checkpoint(repaired)
    assert meta.provenance['needs_bn_repair'] is False
    assert meta.provenance['bn_repair']['num_images'] == 101
    scores = {}
    for name, ckpt, limit in (('broken', broken, '60'), ('repaired', repaired, '233')):
        report = tmp_path / f'{name}.json'
        rc = cli(['evaluate', '--weights', str(ckpt), '--data', str(camvid), '--split', 'test',
                  '--report', str(report), '--limit', limit])
        assert rc == 0
        scores[name] = json.loads(report.read_text())['miou']
    assert scores['broken'] < 0.05
    assert scores['repaired'] >= 0.45
