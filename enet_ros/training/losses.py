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

"""ENet's class weighting and the training loss."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from enet_ros.training.dataset import IGNORE_TARGET
import numpy as np
import torch

ENET_C = 1.02


def enet_class_weights(counts: Sequence[int], c: float = ENET_C) -> np.ndarray:
    """Return ENet's class weights ``w_class = 1 / ln(c + p_class)`` (Paszke et al. 2016, 5.2).

    ``p_class`` is the class's share of all counted (non-ignored) training pixels; with
    ``c = 1.02`` the weights lie in ``(1 / ln(2.02), 1 / ln(1.02)] = (1.42, 50.5]``, so rare
    classes weigh more but never unboundedly.

    Args:
        counts: ``(C,)`` pixel counts per class (ignore index excluded).
        c: The paper's constant (1.02).

    Returns:
        ``(C,)`` float64 weights.

    Raises:
        ValueError: If no pixel was counted or ``c <= 1`` (``ln`` would be <= 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError('no labelled pixels to compute class weights from (every pixel is '
                         'ignored or the dataset is empty)')
    if c <= 1.0:
        raise ValueError(f'ENet class-weight constant c={c} must be > 1')
    return 1.0 / np.log(c + counts / total)


def make_criterion(weights: Optional[Union[Sequence[float], np.ndarray]],
                   device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """Return the weighted cross-entropy of ``(N, C, H, W)`` logits and ``(N, H, W)`` targets.

    Targets are int64 class ids.

    Pixels whose target is :data:`~enet_ros.training.dataset.IGNORE_TARGET` (-100: the ignore
    index, augmentation padding) do not count.
    """
    w = None if weights is None else torch.as_tensor(np.asarray(weights), dtype=torch.float32,
                                                     device=device)
    return torch.nn.CrossEntropyLoss(weight=w, ignore_index=IGNORE_TARGET)
