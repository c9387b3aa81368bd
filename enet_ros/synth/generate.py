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

"""One call from (seed, index, config) to a finished sample: images, camera info, ground truth.

Scene ``index`` of dataset ``seed`` draws all its randomness from
``numpy.random.Generator(PCG64(SeedSequence([seed, index])))``, so a scene does not depend on
how many scenes are generated, in which order or in how many processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

from enet_ros.synth.groundtruth import camera_info, ground_truth
from enet_ros.synth.render import Frame, render_scene
from enet_ros.synth.scene import LAYOUTS, sample_scene, Scene
import numpy as np

SYNTH_VERSION = '1.1'
"""Generator version, recorded in every scene's JSON and in ``dataset.json``. Bump it whenever
the same seed would produce different bytes."""

CLASS_NAMES = ('background', 'box', 'box_boundary')
CLASS_COLORS = ((0, 0, 0), (230, 160, 40), (40, 220, 255))
IGNORE_LABEL = 255
DEFAULT_STAMP_START_NS = 1_700_000_000 * 1_000_000_000


@dataclass
class SynthConfig:
    """Options shared by all scenes of a dataset.

    Attributes:
        width: Image width in pixels (>= 16).
        height: Image height in pixels (>= 16).
        boundary_px: Width of the box_boundary band (class 2) inside every top-face outline,
            pixels; 0 disables class 2.
        side_label: Class id of carton side faces: 0 (background) or 255 (ignore).
        layouts: Allowed layouts (subset of ``LAYOUTS``); empty means all.
        rate_hz: Frame rate used for the header stamps (and the bag), Hz.
        stamp_start_ns: Stamp of scene 0, nanoseconds since the epoch.
    """

    width: int = 640
    height: int = 480
    boundary_px: int = 2
    side_label: int = 0
    layouts: Tuple[str, ...] = field(default_factory=tuple)
    rate_hz: float = 5.0
    stamp_start_ns: int = DEFAULT_STAMP_START_NS

    def validate(self) -> None:
        """Raise ValueError naming the bad option and the fix."""
        if self.width < 16 or self.height < 16:
            raise ValueError(f'image size {self.width}x{self.height} is too small; use at least '
                             '16x16 (e.g. --size 64x48)')
        if self.boundary_px < 0 or self.boundary_px > 20:
            raise ValueError(f'boundary width {self.boundary_px} px out of range; use 0..20')
        if self.side_label not in (0, IGNORE_LABEL):
            raise ValueError(f'side_label must be 0 or {IGNORE_LABEL}, got {self.side_label}')
        for name in self.layouts:
            if name not in LAYOUTS:
                raise ValueError(f'unknown layout {name!r}; choose from {", ".join(LAYOUTS)}')
        if not self.rate_hz > 0:
            raise ValueError(f'rate must be > 0 Hz, got {self.rate_hz}')

    def stamp_ns(self, index: int) -> int:
        """Header stamp of scene ``index``, integer nanoseconds."""
        return int(self.stamp_start_ns + round(index * 1e9 / self.rate_hz))


@dataclass
class Sample:
    """A generated scene: the scene description, its images and its documents."""

    index: int
    name: str
    stamp_ns: int
    scene: Scene
    frame: Frame
    gt: Dict
    camera_info: Dict


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """Return the generator of scene ``index`` in dataset ``seed`` (both integers >= 0)."""
    if seed < 0 or index < 0:
        raise ValueError(f'seed and index must be >= 0 (got seed={seed}, index={index})')
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(index)])))


def generate_sample(seed: int, index: int, config: Optional[SynthConfig] = None,
                    layouts: Optional[Sequence[str]] = None) -> Sample:
    """Sample, render and annotate one scene.

    Args:
        seed: Dataset seed (>= 0).
        index: Scene index (>= 0); the scene's name is ``f'{index:06d}'``.
        config: Dataset options (defaults: 640x480, 2 px boundary band, side faces = 0).
        layouts: Overrides ``config.layouts`` if given.

    Returns:
        The :class:`Sample`. Its arrays and documents are a pure function of the arguments.
    """
    config = config or SynthConfig()
    config.validate()
    rng = scene_rng(seed, index)
    allowed = tuple(layouts) if layouts else tuple(config.layouts)
    scene = sample_scene(rng, config.width, config.height, allowed or None)
    frame = render_scene(scene, rng, boundary_px=config.boundary_px,
                         side_label=config.side_label)
    stamp = config.stamp_ns(index)
    name = f'{index:06d}'
    meta = {'generator': 'enet_ros.synth', 'version': SYNTH_VERSION, 'seed': int(seed),
            'index': int(index), 'name': name,
            'labels': {'classes': list(CLASS_NAMES), 'boundary_px': int(config.boundary_px),
                       'side_faces': int(config.side_label)}}
    gt = ground_truth(scene, frame, stamp, meta)
    return Sample(index=index, name=name, stamp_ns=stamp, scene=scene, frame=frame, gt=gt,
                  camera_info=camera_info(scene, stamp))
