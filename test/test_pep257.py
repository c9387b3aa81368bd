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

"""ament_pep257 docstring checks (Google convention, which the package's docstrings follow)."""

from ament_pep257.main import main
import pytest


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    # Google-style sections; __init__ arguments are documented in the class docstring (D107).
    rc = main(argv=['enet_ros', 'launch', '--convention', 'google',
                    '--add-ignore', 'D105', 'D107'])
    assert rc == 0, 'Found docstring style errors'
