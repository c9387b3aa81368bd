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

Each class reproduces one published architecture with its original module names (so its state_dict keys
are the original ones) and its original quirks, written from the published architecture descriptions
(the seed document, the repositories' READMEs and key listings), not copied. Converted checkpoints must
reproduce these graphs' outputs.

* :class:`SeedENet`: the seed document's code: each bottleneck reuses ONE BatchNorm after two convolutions
  and one activation module in several places; 1x1 ConvTranspose2d projections in upsampling; main branch
  zeros made on the host in ``forward``.
* :class:`NtkhoaENet`: the same structure with one BatchNorm per use and PReLU in the decoder.
* :class:`DavidtvsENet`: davidtvs/PyTorch-ENet; ``version='2018'`` (PReLU decoder, per-channel
  ``out_prelu``, 3x3 transposed convolution in upsampling) or ``'current'`` (shared activation module,
  2x2 transposed convolution, ReLU decoder, 3x3 max pooling in the initial block).
"""

import torch
from torch import nn


# --------------------------------------------------------------------------------------- seed / ntkhoa95
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


def _host_zeros(x, channels):
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
        self.conv2 = nn.Conv2d(red, red, 3, stride=2 if down else 1, padding=dil, dilation=dil,
                               bias=True)
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
            return self.batchnorm, self.batchnorm, self.batchnorm2, self.prelu1, self.prelu2, self.prelu3
        return (self.norm1, self.norm2, self.norm3, self.activation1, self.activation2,
                self.activation3)

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
            main = torch.cat((main, _host_zeros(ext, self.cout - self.cin)), 1)
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
            self.norm1, self.norm2, self.norm3 = (nn.BatchNorm2d(red), nn.BatchNorm2d(red),
                                                  nn.BatchNorm2d(c))

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
        self.convt2 = nn.ConvTranspose2d(red, red, 3, stride=2, padding=1, output_padding=1,
                                         bias=False)
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
        setattr(self, init_name, _SeedInitial('batchnorm' if shared else 'norm',
                                              'prelu' if shared else 'activation'))
        self._init = init_name
        rdd = (lambda *a, **k: _SeedRDD(*a, shared=shared, **k))
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
        self.fullconv = nn.ConvTranspose2d(16, classes, 3, stride=2, padding=1, output_padding=1,
                                           bias=False)

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
    """The seed document's ENet (shared BatchNorm and activations, ReLU decoder)."""
    return _SeedLikeENet(classes, shared=True, decoder_relu=True)


def NtkhoaENet(classes=12):  # noqa: N802
    """ntkhoa95/ENet_PyTorch (one BatchNorm per use, PReLU everywhere)."""
    return _SeedLikeENet(classes, shared=False, decoder_relu=False)


# ---------------------------------------------------------------------------------------------- davidtvs
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
                nn.Conv2d(i, i, (5, 1), padding=(2, 0), bias=False), nn.BatchNorm2d(i), acts.inner(),
                nn.Conv2d(i, i, (1, 5), padding=(0, 2), bias=False), nn.BatchNorm2d(i), acts.inner())
        else:
            self.ext_conv2 = _seq(nn.Conv2d(i, i, 3, padding=dilation, dilation=dilation, bias=False),
                                  i, acts.inner())
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
        self.main_max1 = (nn.MaxPool2d(2, stride=2, return_indices=True) if version == 'current'
                          else nn.MaxPool2d(3, stride=2, padding=1, return_indices=True))
        self.ext_conv1 = _seq(nn.Conv2d(cin, i, 2, stride=2, bias=False), i, acts.inner())
        self.ext_conv2 = _seq(nn.Conv2d(i, i, 3, padding=1, bias=False), i, acts.inner())
        self.ext_conv3 = _seq(nn.Conv2d(i, cout, 1, bias=False), cout, acts.inner())
        self.ext_regul = nn.Dropout2d(0.1)
        self.out_prelu = acts.out()
        self.extra = cout - cin

    def forward(self, x):
        main, indices = self.main_max1(x)
        ext = self.ext_regul(self.ext_conv3(self.ext_conv2(self.ext_conv1(x))))
        main = torch.cat((main, _host_zeros(ext, self.extra)), 1)
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
            self.ext_conv2 = _seq(nn.ConvTranspose2d(i, i, 3, stride=2, padding=1, output_padding=1,
                                                     bias=False), i, acts.inner())
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
    """davidtvs/PyTorch-ENet, ``version`` '2018' or 'current' (encoder PReLU, decoder per version)."""

    STAGE23 = (('regular', 1), ('dilated', 2), ('asymmetric', 1), ('dilated', 4), ('regular', 1),
               ('dilated', 8), ('asymmetric', 1), ('dilated', 16))

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
                setattr(self, name, _DRegular(128, version, False, dilation=dil,
                                              asymmetric=kind == 'asymmetric'))
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
