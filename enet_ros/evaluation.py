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

"""Segmentation metrics: confusion matrix, per-class IoU, mIoU, pixel accuracy (pure NumPy).

Conventions (as in the CamVid / Cityscapes benchmarks): pixels whose ground truth is the ignore
    index (or
outside ``0..C-1``) are left out entirely; a prediction of the ignore class on a valid pixel counts
as an error; the mIoU averages the IoU of every class except the ignore index, over classes that
occur in the ground truth or the predictions (a class absent from both has no IoU and is left out
of the mean).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np


class ConfusionMatrix:
    """Accumulates a ``(C, C)`` confusion matrix; rows are ground truth, columns predictions.

    Args:
        num_classes: Number of classes C.
        ignore_index: Ground-truth id left out of the counts, or None.
    """

    def __init__(self, num_classes: int, ignore_index: Optional[int] = None) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Add one image: ``prediction`` and ``target`` are (H, W) integer class ids of one shape.

        Raises:
            ValueError: If the shapes differ.
        """
        if prediction.shape != target.shape:
            raise ValueError(
                f'prediction {prediction.shape} and label {target.shape} differ in size'
            )
        t = target.astype(np.int64, copy=False).ravel()
        p = prediction.astype(np.int64, copy=False).ravel()
        valid = (t >= 0) & (t < self.num_classes)
        if self.ignore_index is not None:
            valid &= t != self.ignore_index
        p = np.clip(p[valid], 0, self.num_classes - 1)
        idx = t[valid] * self.num_classes + p
        self.matrix += np.bincount(idx, minlength=self.num_classes**2).reshape(
            self.num_classes, self.num_classes
        )

    def iou(self) -> np.ndarray:
        """Per-class IoU ``(C,)`` float64; NaN for classes absent from labels and predictions."""
        tp = np.diag(self.matrix).astype(np.float64)
        denom = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)

    def evaluated_classes(self) -> List[int]:
        """Class ids that count towards the mIoU (all but the ignore index)."""
        return [c for c in range(self.num_classes) if c != self.ignore_index]

    def miou(self) -> float:
        """Mean IoU over :meth:`evaluated_classes` that occur (fraction in [0, 1])."""
        ious = self.iou()[self.evaluated_classes()]
        return float(np.nanmean(ious)) if np.isfinite(ious).any() else float('nan')

    def pixel_accuracy(self) -> float:
        """Correct pixels / valid pixels (fraction)."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float('nan')


@dataclasses.dataclass
class EvaluationReport:
    """What ``enet-ros evaluate`` reports (fractions, not percentages)."""

    miou: float
    pixel_accuracy: float
    per_class_iou: Dict[str, Optional[float]]
    num_images: int
    confusion_matrix: List[List[int]]
    class_names: List[str]
    ignore_index: Optional[int]

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN IoUs become None)."""
        return dataclasses.asdict(self)


def make_report(
    cm: ConfusionMatrix, class_names: Sequence[str], num_images: int
) -> EvaluationReport:
    """Summarise a confusion matrix as an :class:`EvaluationReport`."""
    ious = cm.iou()
    per_class = {
        class_names[c]: (None if np.isnan(ious[c]) else float(ious[c]))
        for c in cm.evaluated_classes()
    }
    return EvaluationReport(
        miou=cm.miou(),
        pixel_accuracy=cm.pixel_accuracy(),
        per_class_iou=per_class,
        num_images=num_images,
        confusion_matrix=cm.matrix.tolist(),
        class_names=list(class_names),
        ignore_index=cm.ignore_index,
    )


def plot_confusion_matrix(
    matrix: np.ndarray,
    class_names: Sequence[str],
    path: str,
    title: str = 'Confusion matrix (rows: ground truth, normalised)',
) -> None:
    """Write a row-normalised confusion matrix PNG with matplotlib (Agg backend)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=np.float64)
    rows = m.sum(1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n), dpi=100)
    im = ax.imshow(norm, cmap='Blues', vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=60, ha='right')
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(title, fontsize=9)
    for i in range(n):
        for j in range(n):
            if norm[i, j] >= 0.01:
                ax.text(
                    j,
                    i,
                    f'{norm[i, j]:.2f}',
                    ha='center',
                    va='center',
                    fontsize=6,
                    color='white' if norm[i, j] > 0.5 else 'black',
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate_dataset(
    segmenter, dataset, limit: Optional[int] = None, progress: bool = True
) -> ConfusionMatrix:
    """Run ``segmenter`` over ``dataset`` and accumulate the confusion matrix.

    Args:
        segmenter: A :class:`enet_ros.inference.Segmenter` (its own preprocessing is used, so the
            figures match what the node produces).
        dataset: A :class:`enet_ros.data.SegmentationDataset` whose class ids match the model's.
        limit: Evaluate only the first ``limit`` samples.
        progress: Show a tqdm progress bar.

    Raises:
        ValueError: If the dataset's class count differs from the model's, or ``limit`` < 1.
    """
    from tqdm import tqdm

    if limit is not None and limit < 1:
        raise ValueError(f'limit {limit}: evaluate at least 1 image (None: all of them)')
    n_model = segmenter.num_classes
    n_data = dataset.classes.num_classes
    if n_model != n_data:
        raise ValueError(
            f'the model predicts {n_model} classes but dataset {dataset.name} has {n_data}'
        )
    ignore = dataset.classes.ignore_index
    cm = ConfusionMatrix(n_model, ignore)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for i in tqdm(range(count), desc=f'evaluate {dataset.name}', disable=not progress, unit='img'):
        image, label = dataset.load(i)
        cm.update(segmenter(image).class_ids, label)
    return cm
