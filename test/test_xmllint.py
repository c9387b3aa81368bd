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

"""package.xml: ament_xmllint where installed; else well-formed format 3 with required parts."""

import xml.etree.ElementTree as ElementTree

import pytest


@pytest.mark.linter
@pytest.mark.xmllint
def test_xmllint(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    try:
        from ament_xmllint.main import main
    except ImportError:  # not on PyPI: check what the format-3 schema requires ourselves
        root = ElementTree.parse(repo_root / 'package.xml').getroot()
        assert root.tag == 'package' and root.get('format') == '3'
        for tag in ('name', 'version', 'description', 'maintainer', 'license'):
            assert root.find(tag) is not None and root.find(tag).text.strip(), tag
        assert root.find('name').text == 'enet_ros'
        assert root.find('export/build_type').text == 'ament_python'
        depends = {e.text for e in root.iter('exec_depend')}
        for dep in ('rclpy', 'sensor_msgs', 'geometry_msgs', 'std_msgs', 'visualization_msgs',
                    'diagnostic_msgs', 'vision_msgs', 'cv_bridge', 'python3-numpy',
                    'python3-opencv'):
            assert dep in depends, dep
        for xml in sorted((repo_root / 'config').glob('*.xml')):
            ElementTree.parse(xml)  # well-formed
        return
    xml_files = [str(p) for p in sorted((repo_root / 'config').glob('*.xml'))]
    rc = main(argv=['package.xml'] + xml_files)
    assert rc == 0, 'Found XML errors'
