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

"""ENet model: any size, dtypes, memory formats, no host work in forward, fusion, pooling impls."""

import dataclasses

from enet_ros.model.enet import ENet, ENetArch, MaxPoolWithIndices, MaxUnpool
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

# The variants the converter produces (see enet_ros/model/convert.py), plus the paper's layout.
VARIANTS = {
    'paper': ENetArch(num_classes=5),
    'seed': ENetArch(
        num_classes=4,
        variant='seed',
        initial_conv_bias=True,
        initial_bn='conv',
        downsample_projection='1x1',
        conv_bias=True,
        asymmetric_order='1x5,5x1',
        asymmetric_inner_bn=False,
        upsample_main_bn=False,
        prelu_per_channel=False,
        out_prelu_per_channel=False,
    ),
    'davidtvs-2018': ENetArch(
        num_classes=3,
        variant='davidtvs-2018',
        decoder_activation='prelu',
        prelu_per_channel=False,
        initial_pool_kernel=3,
        downsample_pool_kernel=3,
        expansion_activation=True,
    ),
    'davidtvs': ENetArch(
        num_classes=3,
        variant='davidtvs',
        prelu_per_channel=False,
        out_prelu_per_channel=False,
        initial_prelu_per_channel=False,
        initial_pool_kernel=3,
        upsample_kernel=2,
        expansion_activation=True,
    ),
}


def randomized(arch, seed=0):
    """Return an eval-mode ENet with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = ENet(arch)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.4)
    return model.eval()


@pytest.mark.parametrize('name', sorted(VARIANTS))
@pytest.mark.parametrize('size', [(37, 53), (1, 1), (8, 8), (61, 17)])
def test_any_size_gives_logits_of_input_size(name, size):
    model = randomized(VARIANTS[name])
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, VARIANTS[name].num_classes, *size)
    assert torch.isfinite(y).all()


def test_odd_sizes_are_zero_padded_to_a_multiple_of_8_and_cropped():
    """The documented semantics: pad bottom/right with zeros to /8, run, crop the logits."""
    model = randomized(VARIANTS['paper'])
    x = torch.randn(2, 3, 45, 61)
    with torch.no_grad():
        odd = model(x)
        padded = model(torch.nn.functional.pad(x, (0, 3, 0, 3)))
    assert padded.shape == (2, 5, 48, 64)
    assert torch.equal(odd, padded[:, :, :45, :61])


@pytest.mark.parametrize('dtype,tol', [(torch.bfloat16, 0.08), (torch.float16, 0.01)])
def test_low_precision_matches_fp32(dtype, tol):
    """Relative RMS error of the logits: bf16 keeps 8 mantissa bits, fp16 11."""
    model = randomized(VARIANTS['paper'])
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        ref = model(x)
        low = model.to(dtype)(x.to(dtype))
    assert low.dtype == dtype
    rel = (low.float() - ref).norm() / ref.norm()
    assert rel.item() < tol


def test_channels_last_matches():
    model = randomized(VARIANTS['davidtvs-2018'])
    x = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        ref = model(x)
        out = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    assert torch.allclose(ref, out, atol=1e-5)


class _DeviceRecorder(TorchDispatchMode):
    """Record every op and the devices of its tensor inputs and outputs."""

    def __init__(self):
        super().__init__()
        self.events = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        devices = set()
        for obj in list(args) + list((kwargs or {}).values()) + [out]:
            for t in (obj if isinstance(obj, (list, tuple)) else [obj]):
                if isinstance(t, torch.Tensor):
                    devices.add(t.device.type)
        self.events.append((str(func), devices))
        return out


@pytest.mark.parametrize('name', sorted(VARIANTS))
@pytest.mark.parametrize('impl', ['native', 'pixel_shuffle'])
def test_forward_allocates_nothing_on_the_host(name, impl):
    """On the meta device, every op of forward stays on meta: no host tensor, no transfer."""
    model = ENet(VARIANTS[name]).eval().set_unpool_impl(impl).to('meta')
    x = torch.empty(2, 3, 37, 53, device='meta')
    recorder = _DeviceRecorder()
    with torch.no_grad(), recorder:
        y = model(x)
    assert y.shape == (2, VARIANTS[name].num_classes, 37, 53)
    off_device = [(op, d) for op, d in recorder.events if d != {'meta'}]
    assert recorder.events and not off_device, off_device[:5]


def test_seed_reference_does_allocate_on_the_host():
    """The check above can fail: the seed code's host-made zeros are caught by it."""
    from enet_ros.model.seed_reference import SeedENet

    model = SeedENet(4).eval().to('meta')
    recorder = _DeviceRecorder()
    with torch.no_grad(), recorder:
        model(torch.empty(1, 3, 32, 32, device='meta'))
    assert any(d != {'meta'} for _, d in recorder.events)


@pytest.mark.parametrize('exact', [True, False])
@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_fuse_changes_logits_by_at_most_1e4(name, exact):
    model = randomized(VARIANTS[name], seed=3)
    x = torch.randn(2, 3, 45, 61)
    with torch.no_grad():
        ref = model(x)
        fused = model.fuse(keep_pool_inputs_exact=exact)(x)
    assert model.fused
    left = [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if exact:  # the initial block and stage 1 keep their BatchNorms, nothing after them does
        assert left and all(n.startswith(('initial', 'bottleneck1_')) for n in left)
    else:  # only a post-concatenation BN of the initial block (pooled channels) may remain
        assert set(left) <= {'initial.bn'}
    assert (ref - fused).abs().max().item() <= 1e-4


def test_fuse_needs_eval_mode():
    model = ENet(VARIANTS['paper']).train()
    with pytest.raises(RuntimeError, match='eval'):
        model.fuse()


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_pixel_shuffle_unpool_equals_native(name):
    model = randomized(VARIANTS[name], seed=5)
    x = torch.randn(2, 3, 40, 72)
    with torch.no_grad():
        ref = model(x)
        alt = model.set_unpool_impl('pixel_shuffle')(x)
    assert torch.equal(ref, alt)


@pytest.mark.parametrize('kernel', [2, 3])
def test_pool_unpool_impls_agree_with_ties(kernel):
    """Integer-valued inputs have many ties; both impls must pick PyTorch's first maximum."""
    torch.manual_seed(kernel)
    x = torch.randint(-2, 3, (2, 3, 12, 18)).float()
    y_native, idx_native = MaxPoolWithIndices(kernel)(x)
    values = torch.randn_like(y_native)
    up_native = MaxUnpool(kernel)(values, idx_native)
    pool, unpool = MaxPoolWithIndices(kernel), MaxUnpool(kernel)
    pool.impl = unpool.impl = 'pixel_shuffle'
    y_alt, idx_alt = pool(x)
    assert torch.equal(y_native, y_alt)
    assert torch.equal(up_native, unpool(values, idx_alt))


def test_unknown_unpool_impl_and_bad_arch_are_errors():
    with pytest.raises(ValueError, match='unpool impl'):
        ENet(VARIANTS['paper']).set_unpool_impl('scatter')
    with pytest.raises(ValueError, match='initial_bn'):
        ENetArch(num_classes=3, initial_bn='both')
    with pytest.raises(ValueError, match='unknown ENet architecture fields'):
        ENetArch.from_dict({'num_classes': 3, 'colour': 'red'})


def test_paper_variant_parameter_count():
    """Paper Table 1 / Section 4: about 0.36 M parameters."""
    count = sum(p.numel() for p in ENet(ENetArch(num_classes=12)).parameters())
    assert 0.34e6 < count < 0.38e6


@pytest.mark.slow
def test_torch_compile_matches_eager():
    model = randomized(VARIANTS['paper'])
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        ref = model(x)
        compiled = torch.compile(model, fullgraph=True)
        out = compiled(x)
    assert torch.allclose(ref, out, atol=1e-4)


def test_arch_round_trips_through_dict():
    arch = VARIANTS['davidtvs-2018']
    assert ENetArch.from_dict(arch.to_dict()) == arch
    assert dataclasses.asdict(arch)['downsample_pool_kernel'] == 3
