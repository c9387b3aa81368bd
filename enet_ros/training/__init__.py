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

"""ENet training (pure core: torch, NumPy, OpenCV, albumentations; no ROS).

* :mod:`~enet_ros.training.config`: YAML config + ``key=value`` overrides over the paper's
  defaults;
* :mod:`~enet_ros.training.dataset`: augmented samples normalised exactly as inference does;
* :mod:`~enet_ros.training.losses`: ENet class weights ``1 / ln(1.02 + p_class)``;
* :mod:`~enet_ros.training.trainer`: the loop (AMP, DDP under torchrun, resume, checkpoints, logs);
* :mod:`~enet_ros.training.validation`: validation through the inference path;
* :mod:`~enet_ros.training.neura_eval`: box IoU and instance coverage on the real NEURA scenes.

Entry point: ``enet-ros train --config FILE [key=value ...]`` (:mod:`enet_ros.cli.train`).
"""

from enet_ros.training.config import ConfigError, default_config, load_config
from enet_ros.training.losses import enet_class_weights
from enet_ros.training.trainer import train, TrainResult

__all__ = ['ConfigError', 'default_config', 'enet_class_weights', 'load_config', 'train',
           'TrainResult']
