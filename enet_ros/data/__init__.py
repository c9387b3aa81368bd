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

"""Segmentation datasets as lists of (image, label) samples (pure: NumPy + OpenCV, no torch).

Every format yields the same thing: :class:`SegmentationDataset` with ``classes`` (names,
colours, ignore index) and ``load(i) -> (image (H, W, 3) uint8 RGB, label (H, W) int class
ids)``. Formats register in :data:`FORMATS` (see :mod:`enet_ros.data.formats`).
"""

from enet_ros.data.formats import (FORMATS, open_dataset, read_image_rgb, read_label,
                                   SegmentationDataset)

__all__ = ['FORMATS', 'open_dataset', 'read_image_rgb', 'read_label', 'SegmentationDataset']
