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

"""PNG plots of a training run: loss and mIoU curves (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_loss(iteration_losses: Sequence[Sequence[float]], epochs: Sequence[Mapping], path: str
              ) -> None:
    """Write the training-loss curve.

    Args:
        iteration_losses: ``(iteration, mean loss over the last logging window)`` pairs.
        epochs: Per-epoch history rows with ``iteration`` and ``train_loss``.
        path: Output PNG.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if iteration_losses:
        its, losses = zip(*iteration_losses)
        ax.plot(its, losses, lw=0.8, alpha=0.6, label='training loss (logging window)')
    if epochs:
        ax.plot([e['iteration'] for e in epochs], [e['train_loss'] for e in epochs], 'o-', ms=3,
                label='training loss (epoch mean)')
    ax.set_xlabel('iteration')
    ax.set_ylabel('weighted cross-entropy')
    ax.set_yscale('log')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_miou(epochs: Sequence[Mapping], class_names: Sequence[str], path: str) -> None:
    """Write the validation mIoU (and per-class IoU) curves over epochs.

    Args:
        epochs: Per-epoch history rows with ``epoch``, ``val_miou`` and ``val_per_class_iou``
            (a ``{name: IoU or None}`` dict); rows without validation are skipped.
        class_names: Names in plotting order.
        path: Output PNG.
    """
    plt = _pyplot()
    rows = [e for e in epochs if e.get('val_miou') is not None and not math.isnan(e['val_miou'])]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if rows:
        xs = [e['epoch'] for e in rows]
        ax.plot(xs, [e['val_miou'] for e in rows], 'o-', lw=2, ms=3, color='k', label='mIoU')
        for name in class_names:
            ys = [(e.get('val_per_class_iou') or {}).get(name) for e in rows]
            if any(y is not None for y in ys):
                ax.plot(xs, [math.nan if y is None else y for y in ys], lw=0.8, label=name)
    ax.set_xlabel('epoch')
    ax.set_ylabel('validation IoU')
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
