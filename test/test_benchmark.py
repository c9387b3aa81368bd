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

"""The benchmark: report structure, baseline, interleaving, CLI (figures are not asserted)."""

import json

from enet_ros.cli import main as cli
from enet_ros.cli.benchmark import parse_options, table_rows
from enet_ros.inference.benchmark import (benchmark, Candidate, compare, SeedBaseline,
                                          summarize)
from enet_ros.inference.export import sample_images
from enet_ros.model.checkpoint import save_checkpoint
import numpy as np
import pytest
from test_inference import make_meta, random_enet
import torch


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('bench') / 'tiny.pt'
    save_checkpoint(path, random_enet(3), make_meta(3))
    return path


def test_report_has_the_documented_keys(ckpt):
    report = benchmark(ckpt, size=(64, 48), batch=1, iters=3, warmup=1)
    for key in ('median', 'p90'):
        assert report['latency_ms'][key] > 0
    assert report['model_ms']['median'] > 0
    assert report['latency_ms']['count'] == 3
    assert report['throughput_fps'] == pytest.approx(1e3 / report['latency_ms']['median'])
    assert report['peak_memory_mb'] >= 0 and report['memory_method']
    assert report['baseline']['latency_ms']['median'] > 0
    assert report['baseline']['model_ms']['median'] > 0
    assert report['speedup_vs_baseline'] == pytest.approx(
        report['baseline']['latency_ms']['median'] / report['latency_ms']['median'])
    assert report['class_id_agreement'] == 1.0  # torch fp32 against itself
    assert report['size'] == [64, 48] and report['batch'] == 1
    assert 'torch' in report['description']
    assert report['environment']['torch'] == torch.__version__
    json.dumps(report)  # plain containers only


def test_batch_and_onnxruntime_candidate_in_one_interleaved_run(ckpt, tmp_path):
    cands = [Candidate('eager', options={'channels_last': False}),
             Candidate('ort', 'onnxruntime', options={'engine_cache_dir': str(tmp_path)})]
    result = compare(ckpt, cands, size=(48, 32), batch=3, iters=2, warmup=1)
    assert [c['name'] for c in result['candidates']] == ['eager', 'ort']
    for rep in result['candidates']:
        assert rep['latency_ms']['count'] == 2
        assert rep['per_frame_ms'] == pytest.approx(rep['latency_ms']['median'] / 3)
        assert rep['throughput_fps'] == pytest.approx(3e3 / rep['latency_ms']['median'])
        assert rep['class_id_agreement'] >= 0.999
        assert rep['speedup_vs_baseline'] > 0
    assert result['baseline']['latency_ms']['count'] == 2


def test_baseline_is_skipped_with_a_reason_for_sizes_not_divisible_by_8(ckpt):
    report = benchmark(ckpt, size=(61, 45), iters=2, warmup=1)
    assert 'divisible by 8' in report['baseline']['skipped']
    assert report['speedup_vs_baseline'] is None
    assert SeedBaseline.skip_reason(640, 480) is None


def test_seed_baseline_outputs_class_ids():
    base = SeedBaseline(4, torch.device('cpu'))
    images = list(sample_images(2, 32, 48, 0))
    ids = base.end_to_end(images)
    assert ids.shape == (2, 32, 48) and ids.dtype == np.uint8 and ids.max() < 4


def test_summarize_and_options():
    stats = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats['median'] == 3.0 and stats['min'] == 1.0 and stats['count'] == 5
    assert stats['p90'] == pytest.approx(61.6)
    assert parse_options(['channels_last=false', 'intra-op-threads=2', 'compile_mode=aot',
                          'engine_cache_dir=/tmp/x', 'scale=0.5', 'x=none']) == {
        'channels_last': False, 'intra_op_threads': 2, 'compile_mode': 'aot',
        'engine_cache_dir': '/tmp/x', 'scale': 0.5, 'x': None}
    with pytest.raises(ValueError, match='KEY=VALUE'):
        parse_options(['channels_last'])


def test_cli_writes_the_json_report_and_prints_a_table(ckpt, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    rc = cli(['benchmark', '--weights', str(ckpt), '--size', '64x48', '--iters', '2',
              '--warmup', '1', '--option', 'channels_last=false', '--report', str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'seed baseline' in text and 'speedup vs the seed code' in text
    data = json.loads(out.read_text())
    for path in ('latency_ms.median', 'latency_ms.p90', 'model_ms.median', 'throughput_fps',
                 'baseline.latency_ms.median', 'speedup_vs_baseline', 'peak_memory_mb'):
        value = data
        for part in path.split('.'):
            value = value[part]
        assert isinstance(value, float), path
    assert data['options'] == {'channels_last': False}
    rows = table_rows(data)
    assert rows[0][1] == 'e2e median ms' and len(rows) == 3


def test_cli_reports_bad_arguments(ckpt, capsys):
    assert cli(['benchmark', '--weights', str(ckpt), '--size', '64by48']) == 1
    assert 'WIDTHxHEIGHT' in capsys.readouterr().err
    assert cli(['benchmark', '--weights', str(ckpt), '--backend', 'torch',
                '--option', 'flavour=vanilla', '--iters', '1']) == 1


def test_device_is_checked_before_anything_runs(ckpt, capsys):
    with pytest.raises(ValueError, match="device 'tpu' is not 'cpu', 'cuda' or 'cuda:N'"):
        compare(ckpt, [Candidate('tpu', device='tpu')], size=(32, 24), iters=1, baseline=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda': CUDA is not available"):
            benchmark(ckpt, device='cuda', size=(32, 24), iters=1, baseline=False)
        assert cli(['benchmark', '--weights', str(ckpt), '--size', '32x24', '--device', 'cuda',
                    '--no-baseline', '--iters', '1']) == 1
        assert 'CUDA is not available' in capsys.readouterr().err
    assert cli(['benchmark', '--weights', str(ckpt), '--size', '32x24', '--device', 'tpu',
                '--no-baseline', '--iters', '1']) == 1
    assert "not 'cpu', 'cuda' or 'cuda:N'" in capsys.readouterr().err


def test_report_path_and_option_values_are_checked(ckpt, tmp_path, capsys):
    assert cli(['benchmark', '--weights', str(ckpt), '--size', '32x24', '--no-baseline',
                '--iters', '1', '--report', str(tmp_path)]) == 1
    assert 'is a directory, expected a file name' in capsys.readouterr().err
    assert cli(['benchmark', '--weights', str(ckpt), '--size', '32x24', '--no-baseline',
                '--iters', '1', '--option', 'channels_last=maybe']) == 1
    assert "channels_last='maybe' is not a boolean" in capsys.readouterr().err
