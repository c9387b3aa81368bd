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

"""The seed document's ENet code path, re-created for baselines and conversion tests.

This is the network the project started from (../shared/seed), rebuilt with its module names (so
its state_dict keys are the seed checkpoints' keys) and its run-time behaviour: each bottleneck
reuses ONE BatchNorm after two convolutions and one activation module in several places, upsampling
bottlenecks use 1x1 ConvTranspose2d projections, and the main branch's zero channels are made on
the host in ``forward`` and copied to the device. It serves two purposes only:

* ``enet-ros benchmark`` times it (eager fp32) as the baseline our engine is compared with;
* the tests check that checkpoints converted by :mod:`enet_ros.model.convert` reproduce its
  outputs.

Use :class:`enet_ros.model.ENet` for everything else. ``NtkhoaENet`` is the same structure with one
BatchNorm per use (ntkhoa95/ENet_PyTorch).
"""

import torch
from torch import nn


class _SeedInitial(nn.Module):
    def __init__(self, norm_name, act_name):
        super().__init__()
        self.conv = nn.Conv2d(3, 13, 3, stride=2, padding=1)
        self.maxpool = nn.MaxPool2d(2, 2)
        setattr(self, act_name, nn.PReLU(16))
        setattr(self, norm_name, nn.BatchNorm2d(13))
        self._norm, self._act = norm_name, act_name

    def forward(self, x):
        main = getattr(self, self._norm)(self.conv(x))
        return getattr(self, self._act)(torch.cat((main, self.maxpool(x)), 1))


def _act(relu):
    return nn.ReLU() if relu else nn.PReLU()


def host_zeros(x, channels):
    """Return zeros made on the host and copied to ``x``'s device, as the seed code does."""
    # Both published codes make the padding on the host and move it: reproduced on purpose.
    zeros = torch.zeros((x.shape[0], channels, x.shape[2], x.shape[3]))
    return zeros.to(x.device, x.dtype)


class _SeedRDD(nn.Module):
    """Regular / dilated / downsampling bottleneck, seed (shared BN) or ntkhoa95 (separate BNs)."""

    def __init__(self, dil, cin, cout, down, relu=False, shared=True):
        super().__init__()
        self.cin, self.cout, self.down, self.shared = cin, cout, down, shared
        red = cin // 4 if down else cout // 4
        self.maxpool = nn.MaxPool2d(2, 2, return_indices=True)
        self.conv1 = nn.Conv2d(cin, red, 1, bias=False)
        self.conv2 = nn.Conv2d(
            red, red, 3, stride=2 if down else 1, padding=dil, dilation=dil, bias=True
        )
        self.conv3 = nn.Conv2d(red, cout, 1, bias=False)
        self.dropout = nn.Dropout2d(0.1)
        if shared:
            act = _act(relu)
            self.prelu1 = self.prelu2 = self.prelu3 = act
            self.batchnorm = nn.BatchNorm2d(red)
            self.batchnorm2 = nn.BatchNorm2d(cout)
        else:
            self.activation = _act(relu)
            self.activation1 = self.activation2 = self.activation3 = self.activation
            self.norm1, self.norm2 = nn.BatchNorm2d(red), nn.BatchNorm2d(red)
            self.norm3 = nn.BatchNorm2d(cout)

    def _bns(self):
        if self.shared:
            return (
                self.batchnorm,
                self.batchnorm,
                self.batchnorm2,
                self.prelu1,
                self.prelu2,
                self.prelu3,
            )
        return (
            self.norm1,
            self.norm2,
            self.norm3,
            self.activation1,
            self.activation2,
            self.activation3,
        )

    def forward(self, x):
        bn1, bn2, bn3, a1, a2, a3 = self._bns()
        ext = a1(bn1(self.conv1(x)))
        ext = a2(bn2(self.conv2(ext)))
        ext = self.dropout(bn3(self.conv3(ext)))
        main = x
        indices = None
        if self.down:
            main, indices = self.maxpool(x)
        if self.cin != self.cout:
            main = torch.cat((main, host_zeros(ext, self.cout - self.cin)), 1)
        out = a3(ext + main)
        return (out, indices) if self.down else out


class _SeedAS(nn.Module):
    """Asymmetric bottleneck: 1x5 then 5x1 with no BN between them; BN after dropout."""

    def __init__(self, c, shared=True):
        super().__init__()
        red = c // 4
        self.shared = shared
        self.conv1 = nn.Conv2d(c, red, 1, bias=False)
        self.conv21 = nn.Conv2d(red, red, (1, 5), padding=(0, 2), bias=False)
        self.conv22 = nn.Conv2d(red, red, (5, 1), padding=(2, 0), bias=False)
        self.conv3 = nn.Conv2d(red, c, 1, bias=False)
        self.dropout = nn.Dropout2d(0.1)
        if shared:
            self.prelu1, self.prelu2, self.prelu3 = nn.PReLU(), nn.PReLU(), nn.PReLU()
            self.batchnorm = nn.BatchNorm2d(red)
            self.batchnorm2 = nn.BatchNorm2d(c)
        else:
            self.activation = nn.PReLU()
            self.activation1 = self.activation2 = self.activation3 = self.activation
            self.norm1, self.norm2, self.norm3 = (
                nn.BatchNorm2d(red),
                nn.BatchNorm2d(red),
                nn.BatchNorm2d(c),
            )

    def forward(self, x):
        if self.shared:
            bn1, bn2, bn3 = self.batchnorm, self.batchnorm, self.batchnorm2
            a1, a2, a3 = self.prelu1, self.prelu2, self.prelu3
        else:
            bn1, bn2, bn3 = self.norm1, self.norm2, self.norm3
            a1, a2, a3 = self.activation1, self.activation2, self.activation3
        ext = a1(bn1(self.conv1(x)))
        ext = a2(bn2(self.conv22(self.conv21(ext))))
        ext = bn3(self.dropout(self.conv3(ext)))
        return a3(ext + x)


class _SeedUB(nn.Module):
    """Upsampling bottleneck: main branch conv with bias (no BN) + unpool; 1x1 ConvTranspose2d."""

    def __init__(self, cin, cout, relu=True, shared=True):
        super().__init__()
        red = cin // 4
        self.shared = shared
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.main_conv = nn.Conv2d(cin, cout, 1)
        self.dropout = nn.Dropout2d(0.1)
        self.convt1 = nn.ConvTranspose2d(cin, red, 1, bias=False)
        self.convt2 = nn.ConvTranspose2d(
            red, red, 3, stride=2, padding=1, output_padding=1, bias=False
        )
        self.convt3 = nn.ConvTranspose2d(red, cout, 1, bias=False)
        if shared:
            act = _act(relu)
            self.prelu1 = self.prelu2 = self.prelu3 = act
            self.batchnorm = nn.BatchNorm2d(red)
            self.batchnorm2 = nn.BatchNorm2d(cout)
        else:
            self.activation = _act(relu)
            self.activation1 = self.activation2 = self.activation3 = self.activation
            self.norm1, self.norm2 = nn.BatchNorm2d(red), nn.BatchNorm2d(red)
            self.norm3 = nn.BatchNorm2d(cout)

    def forward(self, x, indices):
        if self.shared:
            bn1, bn2, bn3 = self.batchnorm, self.batchnorm, self.batchnorm2
            a1, a2, a3 = self.prelu1, self.prelu2, self.prelu3
        else:
            bn1, bn2, bn3 = self.norm1, self.norm2, self.norm3
            a1, a2, a3 = self.activation1, self.activation2, self.activation3
        ext = a1(bn1(self.convt1(x)))
        ext = a2(bn2(self.convt2(ext)))
        ext = self.dropout(bn3(self.convt3(ext)))
        main = self.unpool(self.main_conv(x), indices, output_size=ext.size())
        return a3(ext + main)


class _SeedLikeENet(nn.Module):
    def __init__(self, classes, shared, decoder_relu):
        super().__init__()
        init_name = 'init' if shared else 'initial'
        setattr(
            self,
            init_name,
            _SeedInitial('batchnorm' if shared else 'norm', 'prelu' if shared else 'activation'),
        )
        self._init = init_name

        def rdd(*a, **k):
            return _SeedRDD(*a, shared=shared, **k)

        self.b10 = rdd(1, 16, 64, True)
        for i in range(1, 5):
            setattr(self, f'b1{i}', rdd(1, 64, 64, False))
        self.b20 = rdd(1, 64, 128, True)
        for stage in (2, 3):
            for i, dil in zip(range(1, 9), (1, 2, None, 4, 1, 8, None, 16)):
                block = _SeedAS(128, shared=shared) if dil is None else rdd(dil, 128, 128, False)
                setattr(self, f'b{stage}{i}', block)
        self.b40 = _SeedUB(128, 64, relu=decoder_relu, shared=shared)
        self.b41 = rdd(1, 64, 64, False, relu=decoder_relu)
        self.b42 = rdd(1, 64, 64, False, relu=decoder_relu)
        self.b50 = _SeedUB(64, 16, relu=decoder_relu, shared=shared)
        self.b51 = rdd(1, 16, 16, False, relu=decoder_relu)
        self.fullconv = nn.ConvTranspose2d(
            16, classes, 3, stride=2, padding=1, output_padding=1, bias=False
        )

    def forward(self, x):
        x = getattr(self, self._init)(x)
        x, i1 = self.b10(x)
        for i in range(1, 5):
            x = getattr(self, f'b1{i}')(x)
        x, i2 = self.b20(x)
        for stage in (2, 3):
            for i in range(1, 9):
                x = getattr(self, f'b{stage}{i}')(x)
        x = self.b42(self.b41(self.b40(x, i2)))
        x = self.b51(self.b50(x, i1))
        return self.fullconv(x)


def SeedENet(classes=12):  # noqa: N802 - named like the class it stands for
    """Build the seed document's ENet (shared BatchNorm and activations, ReLU decoder)."""
    return _SeedLikeENet(classes, shared=True, decoder_relu=True)


def NtkhoaENet(classes=12):  # noqa: N802
    """ntkhoa95/ENet_PyTorch (one BatchNorm per use, PReLU everywhere)."""
    return _SeedLikeENet(classes, shared=False, decoder_relu=False)
