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

"""scripts/demo.sh: ``--help`` prints the usage and does nothing else."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_help_prints_usage_without_rendering(tmp_path):
    out = tmp_path / 'demo'
    env = dict(os.environ, OUT=str(out), VENV=os.path.dirname(os.path.dirname(sys.executable)))
    proc = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'demo.sh'), '--help'],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'scripts/demo.sh --weights CKPT' in proc.stdout
    assert 'usage: enet-ros replay' in proc.stdout
    assert 'rendering' not in proc.stdout
    assert not out.exists()
