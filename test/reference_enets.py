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

"""Reference graphs of the published ENet implementations, written for the tests.

Each class reproduces one published architecture with its original module names (so its state_dict
keys are the original ones) and its original quirks, written from the published architecture
descriptions (the seed document, the repositories' READMEs and key listings), not copied. Converted
checkpoints must reproduce these graphs' outputs.

* ``SeedENet`` / ``NtkhoaENet``: the seed document's code and ntkhoa95's; they live in the package
  (:mod:`enet_ros.model.seed_reference`) because the benchmark times the seed code path as its
  baseline.
* :class:`DavidtvsENet`: davidtvs/PyTorch-ENet; ``version='2018'`` (PReLU decoder, per-channel
  ``out_prelu``, 3x3 transposed convolution in upsampling) or ``'current'`` (shared activation
  module, 2x2 transposed convolution, ReLU decoder, 3x3 max pooling in the initial block).
"""

from enet_ros.model.seed_reference import host_zeros, NtkhoaENet, SeedENet  # noqa: F401
import torch
from torch import nn


# ----------------------------------------------------------------------------------------------
# davidtvs
def _seq(conv, channels, act):
    return nn.Sequential(conv, nn.BatchNorm2d(channels), act)


class _DInitial(nn.Module):
    def __init__(self, version, relu):
        super().__init__()
        self.main_branch = nn.Conv2d(3, 13, 3, stride=2, padding=1, bias=False)
        self.ext_branch = nn.MaxPool2d(3, stride=2, padding=1)
        self.batch_norm = nn.BatchNorm2d(16)
        self.out_prelu = nn.ReLU() if relu else (nn.PReLU(16) if version == '2018' else nn.PReLU())

    def forward(self, x):
        out = torch.cat((self.main_branch(x), self.ext_branch(x)), 1)
        return self.out_prelu(self.batch_norm(out))


class _DActs:
    """2018: a new PReLU per use (per-channel after the sum); current: ONE module reused."""

    def __init__(self, version, relu, channels):
        shared = nn.ReLU() if relu else nn.PReLU()
        self.version, self.relu, self.shared, self.channels = version, relu, shared, channels

    def inner(self):
        if self.version == 'current' or self.relu:
            return self.shared
        return nn.PReLU()

    def out(self):
        if self.version == 'current' or self.relu:
            return self.shared
        return nn.PReLU(self.channels)


class _DRegular(nn.Module):
    def __init__(self, c, version, relu, dilation=1, asymmetric=False):
        super().__init__()
        i = c // 4
        acts = _DActs(version, relu, c)
        self.ext_conv1 = _seq(nn.Conv2d(c, i, 1, bias=False), i, acts.inner())
        if asymmetric:
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(i, i, (5, 1), padding=(2, 0), bias=False),
                nn.BatchNorm2d(i),
                acts.inner(),
                nn.Conv2d(i, i, (1, 5), padding=(0, 2), bias=False),
                nn.BatchNorm2d(i),
                acts.inner(),
            )
        else:
            self.ext_conv2 = _seq(
                nn.Conv2d(i, i, 3, padding=dilation, dilation=dilation, bias=False),
                i,
                acts.inner(),
            )
        self.ext_conv3 = _seq(nn.Conv2d(i, c, 1, bias=False), c, acts.inner())
        self.ext_regul = nn.Dropout2d(0.1)
        self.out_prelu = acts.out()

    def forward(self, x):
        ext = self.ext_regul(self.ext_conv3(self.ext_conv2(self.ext_conv1(x))))
        return self.out_prelu(x + ext)


class _DDown(nn.Module):
    def __init__(self, cin, cout, version, relu):
        super().__init__()
        i = cin // 4
        acts = _DActs(version, relu, cout)
        # 2018: 3x3 stride-2 max pooling with padding 1 on the main branch; current: 2x2.
        self.main_max1 = (
            nn.MaxPool2d(2, stride=2, return_indices=True)
            if version == 'current'
            else nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)
        )
        self.ext_conv1 = _seq(nn.Conv2d(cin, i, 2, stride=2, bias=False), i, acts.inner())
        self.ext_conv2 = _seq(nn.Conv2d(i, i, 3, padding=1, bias=False), i, acts.inner())
        self.ext_conv3 = _seq(nn.Conv2d(i, cout, 1, bias=False), cout, acts.inner())
        self.ext_regul = nn.Dropout2d(0.1)
        self.out_prelu = acts.out()
        self.extra = cout - cin

    def forward(self, x):
        main, indices = self.main_max1(x)
        ext = self.ext_regul(self.ext_conv3(self.ext_conv2(self.ext_conv1(x))))
        main = torch.cat((main, host_zeros(ext, self.extra)), 1)
        return self.out_prelu(main + ext), indices


class _DUp(nn.Module):
    def __init__(self, cin, cout, version, relu):
        super().__init__()
        i = cin // 4
        self.version = version
        acts = _DActs(version, relu, cout)
        self.main_conv1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.main_unpool1 = nn.MaxUnpool2d(2)
        self.ext_conv1 = _seq(nn.Conv2d(cin, i, 1, bias=False), i, acts.inner())
        if version == 'current':
            self.ext_tconv1 = nn.ConvTranspose2d(i, i, 2, stride=2, bias=False)
            self.ext_tconv1_bnorm = nn.BatchNorm2d(i)
            self.ext_tconv1_activation = acts.inner()
            self.ext_conv2 = _seq(nn.Conv2d(i, cout, 1, bias=False), cout, acts.inner())
        else:
            self.ext_conv2 = _seq(
                nn.ConvTranspose2d(i, i, 3, stride=2, padding=1, output_padding=1, bias=False),
                i,
                acts.inner(),
            )
            self.ext_conv3 = _seq(nn.Conv2d(i, cout, 1, bias=False), cout, acts.inner())
        self.ext_regul = nn.Dropout2d(0.1)
        self.out_prelu = acts.out()

    def forward(self, x, indices, output_size):
        main = self.main_unpool1(self.main_conv1(x), indices, output_size=output_size)
        ext = self.ext_conv1(x)
        if self.version == 'current':
            ext = self.ext_tconv1(ext, output_size=output_size)
            ext = self.ext_conv2(self.ext_tconv1_activation(self.ext_tconv1_bnorm(ext)))
        else:
            ext = self.ext_conv3(self.ext_conv2(ext))
        return self.out_prelu(main + self.ext_regul(ext))


class DavidtvsENet(nn.Module):
    """davidtvs/PyTorch-ENet, ``version`` '2018' or 'current' (PReLU encoder)."""

    STAGE23 = (
        ('regular', 1),
        ('dilated', 2),
        ('asymmetric', 1),
        ('dilated', 4),
        ('regular', 1),
        ('dilated', 8),
        ('asymmetric', 1),
        ('dilated', 16),
    )

    def __init__(self, classes=12, version='2018'):
        super().__init__()
        dec_relu = version == 'current'
        self.initial_block = _DInitial(version, relu=False)
        self.downsample1_0 = _DDown(16, 64, version, False)
        for i in range(1, 5):
            setattr(self, f'regular1_{i}', _DRegular(64, version, False))
        self.downsample2_0 = _DDown(64, 128, version, False)
        self._names = []
        for stage, first in ((2, 1), (3, 0)):
            for k, (kind, dil) in enumerate(self.STAGE23):
                name = f'{kind}{stage}_{first + k}'
                setattr(
                    self,
                    name,
                    _DRegular(128, version, False, dilation=dil, asymmetric=kind == 'asymmetric'),
                )
                self._names.append(name)
        self.upsample4_0 = _DUp(128, 64, version, dec_relu)
        self.regular4_1 = _DRegular(64, version, dec_relu)
        self.regular4_2 = _DRegular(64, version, dec_relu)
        self.upsample5_0 = _DUp(64, 16, version, dec_relu)
        self.regular5_1 = _DRegular(16, version, dec_relu)
        self.transposed_conv = nn.ConvTranspose2d(16, classes, 3, stride=2, padding=1, bias=False)

    def forward(self, x):
        size0 = x.size()
        x = self.initial_block(x)
        size1 = x.size()
        x, i1 = self.downsample1_0(x)
        for i in range(1, 5):
            x = getattr(self, f'regular1_{i}')(x)
        size2 = x.size()
        x, i2 = self.downsample2_0(x)
        for name in self._names:
            x = getattr(self, name)(x)
        x = self.regular4_2(self.regular4_1(self.upsample4_0(x, i2, size2)))
        x = self.regular5_1(self.upsample5_0(x, i1, size1))
        return self.transposed_conv(x, output_size=size0)
