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

"""Copyright/licence headers: ament_copyright where installed, else the same check done here."""

import pytest

HEADER = ('# Copyright 2026 enet_ros contributors',
          '# Licensed under the Apache License, Version 2.0')


def _python_files(root):
    for folder in ('enet_ros', 'launch', 'test', 'bench'):
        yield from sorted((root / folder).rglob('*.py'))
    yield root / 'setup.py'


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    try:
        from ament_copyright.main import main
    except ImportError:  # not on PyPI; on a ROS install ament_copyright runs instead
        missing = [str(p.relative_to(repo_root)) for p in _python_files(repo_root)
                   if not all(h in p.read_text(encoding='utf-8')[:1000] for h in HEADER)]
        assert not missing, f'files without the Apache-2.0 header: {missing}'
        return
    rc = main(argv=['enet_ros', 'launch', 'test', 'bench', 'setup.py'])
    assert rc == 0, 'Found copyright header errors'
