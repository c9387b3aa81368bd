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

"""Procedural RGB-D scenes of cartons with exact ground truth (pure core: NumPy + OpenCV, no ROS).

Scenes: cartons grid-packed in layers on pallets, packed on the floor, on conveyors, or
scattered; random carton sizes, cardboard colours, tape, prints, labels and barcodes; wooden
or plastic pallets; OSB, concrete, epoxy or plank floors with markings and cables; clutter
(cabinets, crates, tape rolls, buckets, barrels, posts, sheets); one shadow-casting key light
plus ambient light; a RealSense-like camera looking down with a tilt (640x480, fx about 607 px
by default) and a D4xx-like depth model (noise ~ z**2, stereo-occlusion holes, dropouts).

Label conventions (``mask`` PNG, uint8):

* 0 ``background``: everything that is not a carton top face. Carton *side* faces are
  background by default, as in the hand-made ground truth of the real NEURA pallet images
  ("side faces seen in perspective are not in it"); with ``side_label=255`` they get the
  ignore value 255 instead.
* 1 ``box``: visible carton top faces.
* 2 ``box_boundary``: a band ``boundary_px`` pixels wide (default 2) on the inside of every
  visible top-face outline (where it meets another carton, a side face, the background or an
  occluder; not at image borders), so a segmentation model learns to split touching cartons.
  Class 2 pixels belong to their carton in the instance image.

Instance image (uint16): 0 none, k = top face of the carton with ``id`` k in the ground truth.
Pose ground truth: see :mod:`enet_ros.synth.groundtruth`. Files: :mod:`enet_ros.synth.writer`.
Bag topics: :mod:`enet_ros.synth.bag`.
"""

from enet_ros.synth.generate import CLASS_COLORS, CLASS_NAMES, generate_sample, IGNORE_LABEL
from enet_ros.synth.generate import Sample, scene_rng, SYNTH_VERSION, SynthConfig
from enet_ros.synth.scene import LAYOUTS

__all__ = ['CLASS_COLORS', 'CLASS_NAMES', 'IGNORE_LABEL', 'LAYOUTS', 'SYNTH_VERSION', 'Sample',
           'SynthConfig', 'generate_sample', 'scene_rng']
