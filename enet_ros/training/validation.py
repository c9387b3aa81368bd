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

"""Validation during training through the inference path, so its mIoU is ``enet-ros evaluate``'s.

Each full-size validation image goes through :func:`~enet_ros.inference.preprocess.preprocess` at
the checkpoint's resolution and resize policy, the network, then
:func:`~enet_ros.inference.preprocess.logits_to_image` and the argmax of
:func:`~enet_ros.inference.preprocess.class_ids_and_confidence`: the same functions the
:class:`~enet_ros.inference.Segmenter` calls.
"""

from __future__ import annotations

from typing import Optional, Sequence

from enet_ros.data.formats import SegmentationDataset
from enet_ros.evaluation import ConfusionMatrix
from enet_ros.inference.preprocess import (class_ids_and_confidence, logits_to_image, Normalizer,
                                           plan_resize, preprocess, to_batch_tensor)
from enet_ros.model.checkpoint import Preprocessing
import numpy as np
import torch


@torch.no_grad()
def predict_class_ids(model: torch.nn.Module, image: np.ndarray, normalizer: Normalizer,
                      preprocessing: Preprocessing, device: torch.device) -> np.ndarray:
    """Segment one image exactly as the Segmenter does (fp32, torch).

    Args:
        model: The network (its mode is left unchanged; call ``eval()`` first).
        image: (H, W, 3) uint8 RGB.
        normalizer: ``Normalizer(preprocessing, 'RGB')`` on ``device``.
        preprocessing: Resolution and resize policy of the checkpoint.
        device: Where the model runs.

    Returns:
        (H, W) uint8 class ids (uint16 above 256 classes).
    """
    policy = preprocessing.resize_policy
    resolution = None if policy == 'native' else preprocessing.resolution
    plan = plan_resize(image.shape[:2], resolution, policy)
    x = preprocess(to_batch_tensor([image], device), normalizer, plan)
    logits = logits_to_image(model(x), plan)
    ids, _, _ = class_ids_and_confidence(logits)
    out = ids[0].cpu().numpy()
    return out if out.dtype == np.uint8 else out.astype(np.uint16)


def validate(model: torch.nn.Module, dataset: SegmentationDataset, preprocessing: Preprocessing,
             device: torch.device, indices: Optional[Sequence[int]] = None,
             progress: bool = False) -> ConfusionMatrix:
    """Accumulate the confusion matrix of ``model`` over (some of) ``dataset``.

    Args:
        model: The network; put in eval mode here and left there.
        dataset: Validation data at full resolution (the model's class ids).
        preprocessing: The checkpoint's preprocessing (resolution, resize policy).
        device: Where the model runs.
        indices: Samples to use (default: all; a DDP rank passes its shard).
        progress: Show a tqdm bar.

    Returns:
        The confusion matrix (ground-truth ignore index left out), as ``enet-ros evaluate`` counts.
    """
    from tqdm import tqdm
    model.eval()
    normalizer = Normalizer(preprocessing, 'RGB').to(device)
    cm = ConfusionMatrix(dataset.classes.num_classes, dataset.classes.ignore_index)
    idx = range(len(dataset)) if indices is None else indices
    for i in tqdm(idx, desc='validate', disable=not progress, unit='img', leave=False):
        image, label = dataset.load(i)
        cm.update(predict_class_ids(model, image, normalizer, preprocessing, device), label)
    return cm
