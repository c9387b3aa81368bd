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

"""Training: config, class weights, augmentation, short runs on 64x64 synth scenes, resume, DDP."""

import csv
import math
import os
from pathlib import Path
import shutil
import subprocess
import sys

import cv2
from enet_ros.classes import BOXES
from enet_ros.cli import main as cli_main
from enet_ros.data import open_dataset
from enet_ros.evaluation import evaluate_dataset
from enet_ros.inference import Segmenter
from enet_ros.inference.preprocess import Normalizer, plan_resize, preprocess, to_batch_tensor
from enet_ros.model.checkpoint import load_model, Preprocessing, read_checkpoint
from enet_ros.training import ConfigError, enet_class_weights, load_config, train
from enet_ros.training.config import MAX_SEED
from enet_ros.training.dataset import (build_augmentation, class_pixel_counts, IGNORE_TARGET,
                                       PAD_LABEL, TrainingSet)
from enet_ros.training.trainer import open_datasets_concat, read_resume_state
import numpy as np
import pytest
import torch
import yaml

SIZE = 64


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread (the tests share a small CPU); restore the setting afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def synth64(tmp_path_factory) -> Path:
    """12 training and 3 validation synth scenes of 64x64 pixels."""
    root = tmp_path_factory.mktemp('synth64')
    for name, count, seed in (('train', 12, 11), ('val', 3, 12)):
        assert cli_main(['synth', '--out', str(root / name), '--count', str(count), '--seed',
                         str(seed), '--size', f'{SIZE}x{SIZE}', '--log-level', 'WARNING']) == 0
    return root


def _overrides(data: Path, out: Path, epochs: int, **extra) -> list:
    values = {'data.format': 'synth', 'data.root': str(data / 'train'),
              'data.val_root': str(data / 'val'), 'output': str(out), 'threads': 1,
              'workers': 0, 'schedule.epochs': epochs, 'schedule.batch_size': 4,
              'log.every': 1, 'log.progress': False, 'log.tensorboard': False,
              'log.plots': False,
              'augmentation': '[{name: HorizontalFlip, p: 0.5}, {name: VerticalFlip, p: 0.5}]'}
    values.update(extra)
    return [f'{k}={v}' for k, v in values.items()]


# ------------------------------------------------------------------------------- class weights

def test_enet_class_weight_formula():
    """Check w = 1 / ln(c + p_class) with p_class the class share of counted pixels."""
    counts = [600, 300, 100, 0]
    w = enet_class_weights(counts)
    p = np.array(counts) / 1000.0
    np.testing.assert_allclose(w, 1.0 / np.log(1.02 + p))
    assert w[3] == pytest.approx(1.0 / math.log(1.02)) == pytest.approx(50.4983, abs=1e-4)
    assert w[0] == pytest.approx(1.0 / math.log(1.62))
    assert np.all(np.diff(w) > 0)  # rarer classes weigh more
    np.testing.assert_allclose(enet_class_weights(counts, c=1.5), 1.0 / np.log(1.5 + p))
    with pytest.raises(ValueError, match='no labelled pixels'):
        enet_class_weights([0, 0])


def test_class_pixel_counts_leave_out_the_ignore_index(tmp_path):
    """Pixel counts for the class weights skip ignore-index pixels."""
    root = tmp_path / 'd'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    (root / 'classes.yaml').write_text(yaml.safe_dump({'names': ['a', 'b'], 'ignore_index': 255}))
    label = np.zeros((4, 5), np.uint8)
    label[0] = 1
    label[1, :2] = 255
    for i in range(2):
        cv2.imwrite(str(root / 'images' / f'{i}.png'), np.zeros((4, 5, 3), np.uint8))
        cv2.imwrite(str(root / 'masks' / f'{i}.png'), label)
    counts = class_pixel_counts(open_dataset(str(root), 'folder', 'train'))
    np.testing.assert_array_equal(counts, [2 * 13, 2 * 5])


# ------------------------------------------------------------------------------------- config

def test_config_defaults_are_the_papers():
    """The defaults are the paper's optimiser, batch size and class weighting."""
    cfg = load_config(None)
    assert cfg['optim']['name'] == 'adam' and cfg['optim']['lr'] == 5e-4
    assert cfg['optim']['weight_decay'] == 2e-4 and cfg['schedule']['batch_size'] == 10
    assert cfg['loss']['class_weighting'] == 'enet' and cfg['loss']['enet_c'] == 1.02


def test_config_overrides_are_type_parsed():
    """key=value overrides with dotted keys are parsed as YAML and coerced."""
    cfg = load_config(None, ['optim.lr=1e-3', 'schedule.epochs=5', 'amp=false',
                             'input.resolution=[320, 240]', 'input.resize_policy=stretch',
                             'augmentation.0.p=0.25', 'data.root=/some/where'])
    assert cfg['optim']['lr'] == 1e-3 and isinstance(cfg['optim']['lr'], float)
    assert cfg['schedule']['epochs'] == 5 and cfg['amp'] is False
    assert cfg['input']['resolution'] == [320, 240]
    assert cfg['augmentation'][0] == {'name': 'HorizontalFlip', 'p': 0.25}
    assert cfg['data']['root'] == '/some/where'


def test_config_unknown_keys_are_named(tmp_path):
    """Unknown keys (overrides or file) and bad values are errors naming them."""
    with pytest.raises(ConfigError, match=r"unknown config key 'optim\.lrr'.*'lr'"):
        load_config(None, ['optim.lrr=1'])
    path = tmp_path / 'c.yaml'
    path.write_text('schedule:\n  epoch: 3\n')
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown config key 'schedule\.epoch'"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=r'schedule\.epochs.*not a int'):
        load_config(None, ['schedule.epochs=many'])
    with pytest.raises(ConfigError, match=r'optim\.name.*sgd'):
        load_config(None, ['optim.name=lbfgs'])


@pytest.mark.parametrize('override, key', [('input.scale=.nan', 'input.scale'),
                                           ('input.mean=[.inf, 0, 0]', 'input.mean'),
                                           ('input.std=[1, .nan, 1]', 'input.std'),
                                           ('optim.lr=.inf', 'optim.lr'),
                                           ('optim.lr=.nan', 'optim.lr')])
def test_config_rejects_non_finite_values_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=rf'config key {key}=.* must be finite'):
        load_config(None, [override])


def test_config_rejects_an_unknown_device(capsys):
    with pytest.raises(ConfigError, match="device='tpu' is not 'auto', 'cpu', 'cuda' or"):
        load_config(None, ['device=tpu'])
    assert load_config(None, ['device=cuda:1'])['device'] == 'cuda:1'  # form only, not presence
    assert cli_main(['train', 'device=tpu']) == 1
    assert "config key device='tpu'" in capsys.readouterr().err


def test_shipped_example_configs_load(repo_root):
    """The example configs in config/train load and build their augmentation."""
    for name in ('boxes_synth.yaml', 'camvid.yaml'):
        cfg = load_config(str(repo_root / 'config' / 'train' / name))
        build_augmentation(cfg['augmentation'])


# ------------------------------------------------------------------------------- augmentation

def test_augmentation_errors_name_the_transform_and_argument():
    """Unknown transforms and arguments are errors naming them."""
    with pytest.raises(ValueError, match=r"augmentation\[0\]: albumentations has no .*'Flipp'"):
        build_augmentation([{'name': 'Flipp'}])
    with pytest.raises(ValueError, match=r'augmentation\[1\] \(Affine\): unknown arguments '
                                         r"\['rotation'\]"):
        build_augmentation([{'name': 'HorizontalFlip'}, {'name': 'Affine', 'rotation': 3}])


def test_geometric_augmentation_keeps_label_values_and_pads_with_ignore():
    """Rotation / scale keep mask values (nearest) and pad with the ignore label."""
    label = np.zeros((60, 80), np.uint16)
    label[10:40, 10:50] = 2
    label[12:38, 12:48] = 1
    image = np.full((60, 80, 3), 128, np.uint8)
    aug = build_augmentation([{'name': 'Affine', 'rotate': [20, 20], 'scale': [0.7, 0.7],
                               'p': 1.0}], seed=3)
    out = aug(image=image, mask=label)['mask']
    assert set(np.unique(out)) == {0, 1, 2, PAD_LABEL}  # nearest: no new values; padding ignored
    assert (out == 2).sum() > 0.3 * (label == 2).sum() * 0.49


def test_training_set_normalises_like_inference(tmp_path):
    """Training samples are normalised (and stretched) as the inference path does."""
    root = tmp_path / 'd'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    (root / 'classes.yaml').write_text(yaml.safe_dump({'names': ['a', 'b'], 'ignore_index': 7}))
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    label = np.zeros((30, 40), np.uint8)
    label[:5] = 7
    label[10:20] = 1
    cv2.imwrite(str(root / 'images' / 'a.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / 'masks' / 'a.png'), label)
    ds = open_dataset(str(root), 'folder', 'train')
    prep = Preprocessing(scale=1 / 255, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))
    x, target = TrainingSet(ds, prep)[0]
    expected = Normalizer(prep)(to_batch_tensor([rgb], torch.device('cpu')))[0]
    torch.testing.assert_close(x, expected)
    assert target.dtype == torch.int64 and (target[:5] == IGNORE_TARGET).all()
    assert (target[10:20] == 1).all() and int((target == 0).sum()) == 15 * 40
    # stretch to a network resolution: same geometry and values as the inference path
    prep = Preprocessing(resolution=(20, 16), resize_policy='stretch')
    x, target = TrainingSet(ds, prep)[0]
    plan = plan_resize((30, 40), (20, 16), 'stretch')
    ref = preprocess(to_batch_tensor([rgb], torch.device('cpu')), Normalizer(prep), plan)[0]
    assert x.shape == ref.shape == (3, 16, 20) and target.shape == (16, 20)
    torch.testing.assert_close(x, ref, atol=2.5 / 255, rtol=0)
    # letterbox: 40x30 centred in 40x40; the padding is ignored and normalises to exactly 0
    prep = Preprocessing(mean=(0.2, 0.4, 0.6), resolution=(40, 40), resize_policy='letterbox')
    x, target = TrainingSet(ds, prep)[0]
    assert x.shape == (3, 40, 40) and plan_resize((30, 40), (40, 40), 'letterbox').content == (
        5, 0, 30, 40)
    assert (target[:5] == IGNORE_TARGET).all() and (target[35:] == IGNORE_TARGET).all()
    assert float(x[:, :5].abs().max()) < 0.5 / 255 and (target[15:25] == 1).all()


# ----------------------------------------------------------------------------- training runs

def test_short_training_run_loss_decreases_and_writes_checkpoints(synth64, tmp_path):
    """A few iterations on 64x64 synth scenes: the loss falls; files and provenance."""
    out = tmp_path / 'run'
    extra = {'log.tensorboard': True, 'log.plots': True, 'optim.lr': 5e-3}
    cfg = load_config(None, _overrides(synth64, out, epochs=5, **extra))
    result = train(cfg, command='pytest short run')
    assert result.epochs == 5 and result.iterations == 15
    with open(out / 'log.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ['epoch', 'iteration', 'loss', 'lr', 'val_miou', 'time_s']
    losses = [float(r['loss']) for r in rows if not r['val_miou']]
    assert len(losses) == 15
    assert np.mean(losses[-3:]) < 0.93 * np.mean(losses[:3]), losses
    assert np.polyfit(np.arange(15), losses, 1)[0] < 0, losses  # a downward trend
    assert sum(1 for r in rows if r['val_miou']) == 5
    for name in ('last.pt', 'best.pt', 'resume.pt', 'config.yaml', 'plots/loss.png',
                 'plots/miou.png', 'plots/confusion.png'):
        assert (out / name).is_file(), name
    assert any((out / 'tb').iterdir())

    # The checkpoint is self-describing, and its validation mIoU is what `evaluate` measures.
    state, meta = read_checkpoint(out / 'best.pt')
    assert meta.classes.names == BOXES.names and meta.arch.num_classes == 3
    assert meta.preprocessing.resize_policy == 'native'
    prov = meta.provenance
    assert prov['command'] == 'pytest short run' and prov['seed'] == 0
    assert prov['synth_generator'].startswith('enet_ros.synth ')
    assert prov['data']['train']['count'] == 12 and prov['data']['train']['seed'] == 11
    assert 'torch' in prov['hardware'] and prov['wall_time_s'] > 0
    assert prov['config']['optim']['lr'] == 5e-3
    assert len(prov['class_weights']) == 3
    best = max(r['val_miou'] for r in result.history)
    assert prov['metrics']['val_miou'] == pytest.approx(best) == pytest.approx(result.best_miou)
    val = open_dataset(str(synth64 / 'val'), 'synth', 'val')
    cm = evaluate_dataset(Segmenter(str(out / 'best.pt'), warmup=False), val, progress=False)
    assert cm.miou() == pytest.approx(prov['metrics']['val_miou'], abs=1e-9)
    model = load_model(out / 'last.pt')
    assert model.meta.provenance['epoch'] == 5


def test_resume_continues_from_the_saved_epoch(synth64, tmp_path):
    """Resuming after epoch 1 reproduces an uninterrupted 2-epoch run."""
    full, split = tmp_path / 'full', tmp_path / 'split'
    train(load_config(None, _overrides(synth64, full, epochs=2)))
    argv = ['train', '--log-level', 'WARNING'] + _overrides(synth64, split, epochs=1)
    assert cli_main(argv) == 0
    assert read_checkpoint(split / 'last.pt')[1].provenance['epoch'] == 1
    assert cli_main(['train', '--log-level', 'WARNING', '--resume', str(split),
                     'schedule.epochs=2']) == 0
    a, meta_a = read_checkpoint(full / 'last.pt')
    b, meta_b = read_checkpoint(split / 'last.pt')
    assert meta_b.provenance['epoch'] == 2 and meta_b.provenance['iterations'] == 6
    # Same data order, augmentation, dropout and optimiser state: the same weights.
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    with open(split / 'log.csv', newline='') as f:
        epochs = [int(r['epoch']) for r in csv.DictReader(f) if r['val_miou']]
    assert epochs == [1, 2]


@pytest.fixture(scope='module')
def tiny_run(synth64, tmp_path_factory) -> Path:
    """Train a one-iteration run with the largest allowed seed; copy it to change it."""
    out = tmp_path_factory.mktemp('tiny') / 'run'
    train(load_config(None, _overrides(synth64, out, epochs=1, seed=MAX_SEED,
                                       **{'schedule.iters_per_epoch': 1})))
    return out


def _copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def test_new_run_refuses_a_folder_holding_a_run_and_overwrite_replaces_it(
        synth64, tiny_run, tmp_path, capsys):
    """output= holding a run is refused; --overwrite removes that run's files and only those."""
    out = _copy_run(tiny_run, tmp_path / 'run')
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    cfg = load_config(None, _overrides(synth64, out, epochs=1, **{'schedule.iters_per_epoch': 1}))
    with pytest.raises(ValueError, match=r'output=.*run already holds a training run '
                                         r'\(config\.yaml, log\.csv, resume\.pt, best\.pt, '
                                         r'last\.pt\): give a '
                                         r'new output=DIR, continue it with --resume .*, or add '
                                         r'--overwrite'):
        train(cfg)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (out / 'notes.txt').write_text('mine')
    (out / 'tb').mkdir()
    (out / 'tb' / 'old.events').write_text('old')
    (out / 'plots' / 'loss.png').write_text('old plot')
    (out / 'plots' / 'mine.png').write_text('my plot')
    argv = ['train', '--log-level', 'WARNING'] + _overrides(synth64, out, epochs=1,
                                                            **{'schedule.iters_per_epoch': 1})
    assert cli_main(argv) == 1
    assert 'already holds a training run' in capsys.readouterr().err
    assert cli_main(argv + ['--overwrite']) == 0
    assert (out / 'notes.txt').read_text() == 'mine'
    assert (out / 'plots' / 'mine.png').read_text() == 'my plot'
    assert not (out / 'tb').exists() and not (out / 'plots' / 'loss.png').exists()
    with open(out / 'log.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['epoch'] for r in rows] == ['1', '1']  # 1 iteration row + 1 epoch row, not appended
    assert yaml.safe_load((out / 'config.yaml').read_text())['seed'] == 0


def test_resume_refuses_another_output_folder_and_other_classes(synth64, tiny_run, tmp_path):
    """A resumed run writes to its own folder and keeps its class list; nothing is written."""
    run = _copy_run(tiny_run, tmp_path / 'A')
    other = tmp_path / 'B'
    log_before = (run / 'log.csv').read_bytes()
    cfg = load_config(None, _overrides(synth64, other, epochs=2))
    with pytest.raises(ValueError, match=r'--resume .*A continues the run in .*A, but output=.*B '
                                         r'is another folder: a resumed run writes to its own '
                                         r'folder \(leave output= unset'):
        train(cfg, resume=str(run))
    assert not other.exists()
    classes = tmp_path / 'classes.yaml'
    classes.write_text(yaml.safe_dump({'names': ['bg', 'box', 'edge']}))
    cfg = load_config(None, _overrides(synth64, run, epochs=2, **{'data.classes': str(classes)}))
    with pytest.raises(ValueError, match=r"that run trained on the classes \['background', 'box', "
                                         r"'box_boundary'\], but the dataset has \['bg', 'box', "
                                         r"'edge'\]: resume with the same class list"):
        train(cfg, resume=str(run))
    assert (run / 'log.csv').read_bytes() == log_before
    assert read_resume_state(str(run))['class_names'] == list(BOXES.names)


def test_resume_of_a_file_that_is_not_a_resume_state(tiny_run, tmp_path, capsys):
    """Garbage, empty files and model checkpoints given to --resume are named clearly."""
    expects = r'--resume expects a run folder written by enet-ros train, or the resume\.pt in it'
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(ValueError, match=r'garbage\.pt: not a readable resume state '
                                         r'\(UnpicklingError: .*\); ' + expects):
        read_resume_state(str(garbage))
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'resume.pt').write_bytes(b'')
    with pytest.raises(ValueError, match=r'resume\.pt: not a readable resume state \(EOFError: '
                                         r'the file is empty or cut short\); ' + expects):
        read_resume_state(str(empty))
    best = str(tiny_run / 'best.pt')
    with pytest.raises(ValueError, match=r'best\.pt: this is a model checkpoint \(like best\.pt '
                                         r'/ last\.pt\), not a resume state; ' + expects):
        read_resume_state(best)
    assert cli_main(['train', '--resume', best]) == 1
    assert 'this is a model checkpoint' in capsys.readouterr().err


def test_output_file_and_malformed_config_are_named(synth64, tmp_path):
    """output= naming a file, and a config file that is not valid YAML, are clear errors."""
    afile = tmp_path / 'afile'
    afile.write_text('x')
    cfg = load_config(None, _overrides(synth64, afile, epochs=1))
    with pytest.raises(ValueError, match=r'output=.*afile is a file, not a folder'):
        train(cfg)
    broken = tmp_path / 'broken.yaml'
    broken.write_text('seed: 1\nschedule: {epochs: [\n')
    with pytest.raises(ConfigError, match=r'config file .*broken\.yaml: invalid YAML at line 3, '
                                          r'column 1: .*; fix the file'):
        load_config(str(broken))


@pytest.mark.parametrize('override, message', [
    ('data.limit_val=-1', r'data\.limit_val=-1 must be a whole number >= 1, or null \(no limit'),
    ('data.limit_val=0', r'data\.limit_val=0 must be a whole number >= 1, or null \(no limit'),
    ('data.limit_train=-2', r'data\.limit_train=-2 must be a whole number >= 1'),
    ('seed=-1', r'seed=-1 must be in 0 \.\. 4294967295'),
    ('seed=12345678901234567890', r'seed=12345678901234567890 must be in 0 \.\. 4294967295'),
    ('threads=-1', r"threads=-1 must be >= 0 \(0: torch's default"),
])
def test_config_rejects_out_of_range_counts_and_seeds(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_overrides_may_follow_options(tiny_run, capsys):
    """Overrides before and after options are all applied; --resume defaults output to its run."""
    assert cli_main(['train', 'schedule.epochs=3', '--print-config', '--resume', str(tiny_run),
                     'optim.lr=0.01']) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg['schedule']['epochs'] == 3 and cfg['optim']['lr'] == 0.01
    assert cfg['output'] == str(tiny_run) and cfg['seed'] == MAX_SEED
    assert cli_main(['train', '--print-config', 'seed=1', '--bogus', 'x=1']) == 1
    assert 'unrecognized arguments: --bogus' in capsys.readouterr().err


def _folder_dataset(root: Path, labels, names=('background', 'box')) -> Path:
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'masks').mkdir(exist_ok=True)
    (root / 'classes.yaml').write_text(yaml.safe_dump({'names': list(names)}))
    for i, label in enumerate(labels):
        h, w = label.shape
        cv2.imwrite(str(root / 'images' / f'{i:02d}.png'), np.zeros((h, w, 3), np.uint8))
        cv2.imwrite(str(root / 'masks' / f'{i:02d}.png'), label)
    return root


def _folder_cfg(root: Path, out: Path) -> dict:
    return load_config(None, [f'data.root={root}', 'data.val_fraction=0.25', f'output={out}',
                              'workers=0', 'threads=1', 'schedule.batch_size=2',
                              'schedule.epochs=1', 'log.progress=false', 'augmentation=[]'])


def test_label_values_outside_the_classes_stop_training(tmp_path):
    """A label value outside the classes stops training, naming the file."""
    labels = [np.zeros((16, 16), np.uint8) for _ in range(6)]
    labels[3][4, 4] = 5
    root = _folder_dataset(tmp_path / 'd', labels)
    with pytest.raises(ValueError, match=r'masks/03\.png holds values \[5\] outside the 2'):
        train(_folder_cfg(root, tmp_path / 'out'))


def test_mismatched_pairs_and_empty_data_stop_training(tmp_path):
    """Mismatched pairs, an empty dataset and too few samples are clear errors."""
    root = _folder_dataset(tmp_path / 'd', [np.zeros((16, 16), np.uint8)] * 6)
    os.remove(root / 'masks' / '02.png')
    with pytest.raises(ValueError, match=r"no mask in .*\['02\.png'\]"):
        train(_folder_cfg(root, tmp_path / 'out'))
    empty = _folder_dataset(tmp_path / 'e', [])
    with pytest.raises(ValueError, match='is empty'):
        train(_folder_cfg(empty, tmp_path / 'out2'))
    small = _folder_dataset(tmp_path / 's', [np.zeros((16, 16), np.uint8)] * 2)
    with pytest.raises(ValueError, match='fewer than one batch'):
        train(_folder_cfg(small, tmp_path / 'out3'))


def test_several_dataset_folders_train_as_one(synth64):
    """data.root may list folders of one format; their samples are concatenated."""
    ds = open_datasets_concat([str(synth64 / 'train'), str(synth64 / 'val')], 'synth', 'train')
    assert len(ds) == 15 and ds.classes.names == BOXES.names
    assert ds.info['generator'] == 'enet_ros.synth' and 'seed' not in ds.info
    assert [(p['seed'], p['count']) for p in ds.info['parts']] == [(11, 12), (12, 3)]
    assert ds.load(14)[0].shape == (SIZE, SIZE, 3)


def test_validation_must_not_be_the_training_data(synth64, tmp_path):
    """A synth folder without val_root would validate on the training data: error."""
    cfg = load_config(None, _overrides(synth64, tmp_path / 'o', epochs=1,
                                       **{'data.val_root': 'null'}))
    with pytest.raises(ValueError, match='shares 12 images with the training data'):
        train(cfg)


@pytest.mark.slow
def test_ddp_two_cpu_processes_with_torchrun(synth64, tmp_path):
    """Train with DistributedDataParallel on CPU (gloo), 2 processes via torchrun."""
    torchrun = Path(sys.executable).with_name('torchrun')
    if not torchrun.is_file():
        pytest.skip('torchrun is not installed beside this Python')
    out = tmp_path / 'ddp'
    cmd = [str(torchrun), '--standalone', '--nproc_per_node', '2', '-m', 'enet_ros.cli', 'train',
           '--log-level', 'WARNING'] + _overrides(synth64, out, epochs=2)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, meta = read_checkpoint(out / 'last.pt')
    # 12 samples, 2 processes, batch 4 per process: 1 iteration per epoch.
    assert meta.provenance['iterations'] == 2
    assert '2 processes (DDP)' in meta.provenance['hardware']
    assert meta.provenance['metrics']['val_miou'] is not None
    assert proc.stdout.count('trained 2 epochs') == 1  # only rank 0 reports


def test_paste_distractors_label_background_and_are_reproducible():
    """Paste distractors (enet_ros's own transform, used by name): panels labelled 0."""
    image = np.full((60, 80, 3), 90, np.uint8)
    label = np.ones((60, 80), np.uint16)
    spec = [{'name': 'PasteDistractors', 'count': [2, 2], 'size': [0.3, 0.5], 'p': 1.0}]
    a = build_augmentation(spec, seed=5)(image=image, mask=label)
    b = build_augmentation(spec, seed=5)(image=image, mask=label)
    np.testing.assert_array_equal(a['image'], b['image'])
    np.testing.assert_array_equal(a['mask'], b['mask'])
    painted = a['mask'] == 0
    assert 0.05 < painted.mean() < 0.9 and set(np.unique(a['mask'])) == {0, 1}
    # pixels are changed where (and only where) the mask says background
    changed = np.any(a['image'] != image, axis=2)
    assert changed[painted].mean() > 0.9 and not changed[~painted].any()
