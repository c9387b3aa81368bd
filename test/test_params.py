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

"""The node's parameter table, its pure validation, weights resolution and the config files."""

from pathlib import Path

from enet_ros.ros import params
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO_ROOT / 'config').glob('*.yaml'))

#: Parameters the issue asks for by name.
ISSUE_PARAMS = ('weights', 'backend', 'device', 'precision', 'resize_policy', 'input_transport',
                'use_depth', 'sync_slop_s', 'qos_reliability', 'qos_depth', 'publish_overlay',
                'overlay_alpha', 'confidence_encoding')
#: Those that need a reload (read-only), and those that must change at runtime.
MUST_BE_READ_ONLY = ('weights', 'backend', 'device', 'precision', 'resize_policy',
                     'input_transport', 'use_depth', 'qos_reliability', 'qos_depth',
                     'resolution', 'engine_cache_dir')
MUST_BE_RUNTIME = ('confidence_threshold', 'overlay_alpha', 'publish_overlay',
                   'confidence_encoding', 'publish_mask', 'publish_confidence')


def test_table_has_the_issue_parameters_with_the_right_mutability():
    """Table has the issue parameters with the right mutability."""
    assert len(params.SPECS) == len(params.PARAMS)  # unique names
    assert set(ISSUE_PARAMS) <= set(params.SPECS)
    assert set(MUST_BE_READ_ONLY) <= set(params.READ_ONLY)
    assert set(MUST_BE_RUNTIME) <= set(params.RUNTIME)
    for spec in params.PARAMS:
        assert spec.description, spec.name
        assert params.validate(spec.name, spec.default) is None, spec.name
        if spec.value_range is not None:
            assert spec.kind in (int, float), spec.name
            assert isinstance(spec.value_range[0], spec.kind), spec.name
    assert params.validate_all({}) == []


@pytest.mark.parametrize('name,value,fragment', [
    ('overlay_alpha', 1.5, 'outside [0.0, 1.0]'),
    ('overlay_alpha', 1, 'write 1.0, not 1'),
    ('confidence_encoding', 'jpeg', "is not one of 'mono8', '32FC1'"),
    ('backend', 'tflite', "is not one of 'torch', 'onnxruntime', 'tensorrt'"),
    ('device', 'gpu', "not 'cpu', 'cuda' or 'cuda:N'"),
    ('qos_depth', 0, 'outside [1, 100]'),
    ('qos_depth', True, 'expected an integer'),
    ('use_depth', 'yes', 'expected a bool'),
    ('resolution', [640], '[width, height]'),
    ('resolution', [0, 480], '[width, height]'),
    ('resolution', [641, 480], 'divisible by 8'),
    ('nonexistent', 1, 'unknown parameter'),
])
def test_validate_gives_a_readable_reason(name, value, fragment):
    """Validate gives a readable reason."""
    reason = params.validate(name, value)
    assert reason is not None and fragment in reason and reason.startswith(name)


@pytest.mark.parametrize('name,value', [
    ('overlay_alpha', 0.0), ('overlay_alpha', 1.0), ('device', 'cuda:1'), ('device', 'cuda'),
    ('resolution', [640, 480]), ('resolution', (0, 0)), ('resize_policy', ''),
    ('confidence_encoding', '32FC1'), ('sync_slop_s', 0.0)])
def test_validate_accepts(name, value):
    """Validate accepts."""
    assert params.validate(name, value) is None


def test_validate_all_checks_combinations():
    """Validate all checks combinations."""
    problems = params.validate_all({'backend': 'tensorrt', 'device': 'cpu'})
    assert len(problems) == 1 and "set device to 'cuda'" in problems[0]
    assert params.validate_all({'backend': 'tensorrt', 'device': 'cuda:0'}) == []
    assert params.validate_all({'overlay_alpha': 3.0})[0].startswith('overlay_alpha')


def test_descriptors_carry_ranges_choices_and_read_only():
    """Descriptors carry ranges choices and read only."""
    pytest.importorskip('rcl_interfaces')
    alpha = params.descriptor(params.SPECS['overlay_alpha'])
    assert not alpha.read_only and alpha.description
    assert (alpha.floating_point_range[0].from_value,
            alpha.floating_point_range[0].to_value) == (0.0, 1.0)
    depth = params.descriptor(params.SPECS['qos_depth'])
    assert depth.read_only and depth.integer_range[0].from_value == 1
    assert depth.integer_range[0].to_value == 100
    backend = params.descriptor(params.SPECS['backend'])
    assert "'tensorrt'" in backend.additional_constraints and backend.read_only


def test_segmenter_kwargs():
    """Segmenter kwargs."""
    values = dict(params.DEFAULTS)
    kwargs = params.segmenter_kwargs(values)
    assert kwargs == {'backend': 'torch', 'device': 'cpu', 'precision': 'fp32',
                      'resize_policy': None, 'resolution': None, 'warmup': True}
    values.update(backend='tensorrt', device='cuda', resolution=[640, 480],
                  engine_cache_dir='~/.cache/enet_ros/engines', resize_policy='stretch')
    kwargs = params.segmenter_kwargs(values)
    assert kwargs['resolution'] == (640, 480) and kwargs['resize_policy'] == 'stretch'
    assert kwargs['engine_cache_dir'] == str(Path.home() / '.cache/enet_ros/engines')
    values['backend'] = 'torch'  # the torch backend takes no engine cache
    assert 'engine_cache_dir' not in params.segmenter_kwargs(values)


# --------------------------------------------------------------------------- weights


def test_missing_default_weights_error_names_the_path_and_the_fix(tmp_path):
    """Missing default weights error names the path and the fix."""
    with pytest.raises(FileNotFoundError) as info:
        params.resolve_weights('', share_directory=lambda pkg: tmp_path / 'share',
                               source_root=tmp_path / 'src')
    text = str(info.value)
    assert str(tmp_path / 'share' / 'models' / 'enet_boxes.pt') in text
    assert str(tmp_path / 'src' / 'models' / 'enet_boxes.pt') in text
    assert 'weights:=' in text and 'enet-ros convert' in text


def test_default_weights_resolve_share_directory_first_then_the_repository(tmp_path):
    """Default weights resolve share directory first then the repository."""
    share, src = tmp_path / 'share', tmp_path / 'src'
    (src / 'models').mkdir(parents=True)
    (src / 'models' / 'enet_boxes.pt').write_bytes(b'x')
    lookup = {'share_directory': lambda pkg: share if pkg == 'enet_ros' else None,
              'source_root': src}
    assert params.resolve_weights('', **lookup) == src / 'models' / 'enet_boxes.pt'
    (share / 'models').mkdir(parents=True)
    (share / 'models' / 'enet_boxes.pt').write_bytes(b'x')
    assert params.resolve_weights('', **lookup) == share / 'models' / 'enet_boxes.pt'
    assert params.resolve_weights(params.DEFAULT_WEIGHTS_URL, **lookup) == \
        share / 'models' / 'enet_boxes.pt'
    with pytest.raises(FileNotFoundError, match='package not found'):
        params.resolve_weights('package://other_pkg/x.pt', **lookup)
    with pytest.raises(ValueError, match='package://PACKAGE/PATH'):
        params.resolve_weights('package://enet_ros', **lookup)


def test_weights_paths_and_home_expansion(tmp_path, monkeypatch):
    """Weights paths and home expansion."""
    ckpt = tmp_path / 'm.pt'
    ckpt.write_bytes(b'x')
    assert params.resolve_weights(str(ckpt)) == ckpt
    monkeypatch.setenv('HOME', str(tmp_path))
    assert params.resolve_weights('~/m.pt') == ckpt
    with pytest.raises(FileNotFoundError, match='no such file'):
        params.resolve_weights(str(tmp_path / 'missing.pt'))


# --------------------------------------------------------------------------- config files


def load_parameters(path):
    """Return the ros__parameters of the `/**` section of a node parameter file."""
    data = yaml.safe_load(path.read_text())
    assert list(data) == ['/**'], f'{path.name}: use the /** wildcard key'
    return data['/**']['ros__parameters']


def test_the_shipped_config_files_exist():
    """The shipped config files exist."""
    names = {p.name for p in CONFIGS}
    assert {'enet.yaml', 'jetson_orin.yaml', 'jetson_nano.yaml'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_every_config_key_is_a_declared_parameter_with_a_valid_value(path):
    """Every config key is a declared parameter with a valid value."""
    values = load_parameters(path)
    unknown = sorted(set(values) - set(params.SPECS))
    assert not unknown, f'{path.name}: not parameters of the node: {unknown}'
    for name, value in values.items():
        assert params.validate(name, value) is None, params.validate(name, value)
    missing = sorted(set(params.REQUIRED) - set(values))
    assert not missing, f'{path.name}: required parameters missing: {missing}'
    assert params.validate_all(values) == []


def test_enet_yaml_lists_every_parameter_with_its_default():
    """Enet yaml lists every parameter with its default."""
    values = load_parameters(REPO_ROOT / 'config' / 'enet.yaml')
    assert list(values) == [spec.name for spec in params.PARAMS]  # same order as the table
    assert values == params.DEFAULTS


@pytest.mark.parametrize('board,size', [('orin', [640, 480]), ('nano', [480, 360])])
def test_jetson_configs_select_tensorrt_fp16_with_an_engine_cache(board, size):
    """Jetson configs select tensorrt fp16 with an engine cache."""
    values = load_parameters(REPO_ROOT / 'config' / f'jetson_{board}.yaml')
    assert values['backend'] == 'tensorrt' and values['precision'] == 'fp16'
    assert values['device'] == 'cuda' and values['resolution'] == size
    assert values['engine_cache_dir'].startswith('~/') and values['resize_policy'] == 'stretch'
    kwargs = params.segmenter_kwargs({**params.DEFAULTS, **values})
    assert kwargs['engine_cache_dir'].startswith(str(Path.home()))
    assert kwargs['resolution'] == tuple(size)


# --------------------------------------------------------------------------- box parameters


BOX_PARAMS = ('publish_boxes', 'box_class_ids', 'boundary_class_id', 'min_box_pixels',
              'use_color_edges', 'box_fit_stride', 'working_plane_z_m', 'target_frame',
              'tf_timeout_s', 'box_marker_lifetime_s')


def test_box_parameters_validate_and_map_to_the_estimator_config():
    """The box parameters' checks and their BoxEstimatorConfig."""
    assert params.validate('box_class_ids', []) is not None
    assert 'twice' in params.validate('box_class_ids', [1, 1])
    assert params.validate('boundary_class_id', -2) is not None
    assert params.validate('box_fit_stride', 0) is not None
    problems = params.validate_all({'box_class_ids': [1, 2], 'boundary_class_id': 2})
    assert len(problems) == 1 and 'either box or boundary' in problems[0]
    assert params.validate_all({'box_class_ids': [1, 2], 'boundary_class_id': -1}) == []
    kwargs = params.box_config_kwargs({**params.DEFAULTS, 'boundary_class_id': -1,
                                       'working_plane_z_m': 1.5, 'box_fit_stride': 3})
    assert kwargs['boundary_class_ids'] == () and kwargs['fit_stride'] == 3
    assert kwargs['working_plane'] == (0.0, 0.0, -1.0, 1.5)
    assert params.box_config_kwargs(params.DEFAULTS)['working_plane'] is None
    assert set(BOX_PARAMS) <= set(params.RUNTIME)
    assert kwargs['label_image'] is False  # the node publishes poses only
    from enet_ros.boxes import BoxEstimatorConfig
    config = BoxEstimatorConfig(**params.box_config_kwargs(params.DEFAULTS))
    assert config.box_class_ids == (1,) and config.boundary_class_ids == (2,)
