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

"""Where a YAML parse error is, for messages that name the file, the line and the column."""

from typing import Tuple


def yaml_error_location(exc: Exception) -> Tuple[str, str]:
    """Return ``('line L, column C', problem)`` of a ``yaml.YAMLError`` (1-based line/column).

    The location is ``''`` when PyYAML gives no position; the problem is PyYAML's short
    description (``problem``), else the first line of the error text.

    Args:
        exc: The ``yaml.YAMLError`` raised by ``yaml.safe_load``.

    Returns:
        ``(location, problem)``, both str.
    """
    mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
    location = f'line {mark.line + 1}, column {mark.column + 1}' if mark is not None else ''
    problem = getattr(exc, 'problem', None) or (str(exc).splitlines() or [''])[0]
    return location, problem
