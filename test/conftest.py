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

"""Shared pytest fixtures: the repository root and the research data beside it (../shared/data)."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('ENET_ROS_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """Return the repository root."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Return ../shared/data (research-only data, never copied into the repo); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'research data not found at {SHARED_DATA} (set ENET_ROS_SHARED_DATA)')
    return SHARED_DATA


@pytest.fixture(scope='session')
def weights_dir(shared_data: Path) -> Path:
    """Return the folder of third-party ENet checkpoints."""
    return shared_data / 'enet_weights'


def pytest_collection_modifyitems(config, items):
    """Skip `gpu` tests with a reason when CUDA is unavailable."""
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason='needs CUDA: torch.cuda.is_available() is False here')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)
