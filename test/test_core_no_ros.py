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

"""The core imports no ROS: only enet_ros/ros/ may import rclpy and message packages."""

import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    'enet_ros.model', 'enet_ros.model.convert', 'enet_ros.model.bn_repair', 'enet_ros.inference',
    'enet_ros.evaluation', 'enet_ros.data', 'enet_ros.classes', 'enet_ros.boxes', 'enet_ros.synth',
    'enet_ros.cli', 'enet_ros.cli.convert', 'enet_ros.cli.evaluate', 'enet_ros.cli.synth',
]
ROS_PREFIXES = ('rclpy', 'rosidl', 'rcl_interfaces', 'sensor_msgs', 'std_msgs', 'geometry_msgs',
                'visualization_msgs', 'diagnostic_msgs', 'vision_msgs', 'cv_bridge', 'tf2',
                'message_filters', 'launch')


@pytest.mark.parametrize('module', CORE_MODULES)
def test_core_module_imports_no_ros(module):
    code = (f'import importlib, json, sys; importlib.import_module({module!r}); '
            'print(json.dumps(sorted(sys.modules)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    ros = [m for m in loaded if m.split('.')[0].startswith(ROS_PREFIXES)]
    assert not ros, f'{module} imported ROS modules: {ros[:10]}'


def test_the_check_can_fail():
    """The ROS shell does import rclpy, so the check above is not vacuous."""
    code = ('import json, sys; import enet_ros.ros.node; '
            'print(json.dumps(sorted(sys.modules)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert any(m.startswith('rclpy') for m in loaded)
