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

"""ONNX export of ENet without MaxUnpool, checked and verified against PyTorch.

TensorRT has no MaxUnpool operator and no MaxPool indices output, so the exported graph expresses
ENet's max-pooling-with-indices and max-unpooling with standard operators (the ``'pixel_shuffle'``
implementation of :class:`enet_ros.model.enet.MaxPoolWithIndices` / ``MaxUnpool``):

* 2x2 pooling (paper layout): ``Reshape``/``Transpose`` (space-to-depth), ``ReduceMax`` and
  ``ArgMax`` over the four window positions; unpooling: ``Equal`` (one-hot of the argmax), ``Mul``
  and ``DepthToSpace``;
* 3x3 overlapping pooling (davidtvs 2018): ``Pad`` with -inf, nine strided ``Slice`` s,
  ``ReduceMax`` / ``ArgMax``; unpooling: ``Pad``, ``Equal`` and ``Where`` build the four pixel
  phases, ``DepthToSpace`` interleaves them.

Both give PyTorch's values exactly (first maximum of a window wins; for overlapping windows the
later window wins, as ``max_unpool2d`` on the CPU). BatchNorm is folded into the convolutions and
single-slope PReLUs become the equal ``LeakyRelu`` (which onnxruntime fuses into convolutions)
before export.

The graph has a fixed input height and width (the exported size, which need not be a multiple of 8:
the network pads to a multiple of 8 and crops the logits inside the graph) and a fixed or dynamic
batch. Input ``input`` ``(N, 3, H, W)`` float32 normalised as the checkpoint says; output
``logits`` ``(N, C, H, W)`` float32. The checkpoint's identity (model hash), preprocessing, classes
and architecture are stored in the model's ``metadata_props`` (keys ``enet_ros.*``).

After export, :func:`export_onnx` runs ``onnx.checker``, refuses any ``MaxUnpool`` node or
``MaxPool`` indices output, and compares onnxruntime (CPU) with the unfused PyTorch model (native
pooling) on sample
images: batch 1 (and 3 when the batch is dynamic), at the exported size.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
import warnings

from enet_ros.inference.backends.torch_backend import fuse_all
from enet_ros.model.checkpoint import CheckpointMeta, load_model, Preprocessing
from enet_ros.model.enet import ENet, MaxPoolWithIndices
import numpy as np
import torch

LOG = logging.getLogger(__name__)

INPUT_NAME = 'input'
OUTPUT_NAME = 'logits'
MIN_OPSET = 17
# Bumped whenever the exported graph changes for the same weights (in cache names and keys).
EXPORT_FORMAT = 2
MIN_ARGMAX_AGREEMENT = 0.999
MAX_ABS_LOGIT_DIFF = 1e-3
METADATA_PREFIX = 'enet_ros.'


class ExportError(RuntimeError):
    """The export failed a structural check (checker, forbidden operator) or parity."""


@dataclasses.dataclass
class ParityCase:
    """ONNX vs PyTorch on one sample batch.

    Attributes:
        batch: Batch size N.
        height: Input height in pixels.
        width: Input width in pixels.
        argmax_agreement: Fraction (0..1) of pixels whose argmax class is the same.
        max_abs_diff: Largest absolute logit difference with the pooling switches aligned (see
            :func:`verify_onnx`).
        max_abs_diff_free: Largest absolute logit difference of the free-running models.
        switch_agreement: Fraction (0..1) of pooling windows whose maximum position is the same in
            ONNX and in PyTorch (NaN when the switches could not be read).
    """

    batch: int
    height: int
    width: int
    argmax_agreement: float
    max_abs_diff: float
    max_abs_diff_free: float = float('nan')
    switch_agreement: float = float('nan')


@dataclasses.dataclass
class ParityReport:
    """Outcome of an export: the file, its structure and its parity with PyTorch.

    Attributes:
        path: The ONNX file written.
        opset: ONNX opset of the graph.
        size: Exported input ``(width, height)`` in pixels.
        dynamic_batch: Whether the batch dimension is dynamic.
        model_sha256: Hash of the model's weights and architecture (:func:`model_sha256`).
        op_counts: Number of nodes per operator type.
        cases: One :class:`ParityCase` per verified batch (empty when not verified).
        min_agreement: Threshold on the argmax agreement (fraction of pixels).
        max_diff: Threshold on the max abs logit difference.
    """

    path: str
    opset: int
    size: Tuple[int, int]
    dynamic_batch: bool
    model_sha256: str
    op_counts: Dict[str, int]
    cases: List[ParityCase] = dataclasses.field(default_factory=list)
    min_agreement: float = MIN_ARGMAX_AGREEMENT
    max_diff: float = MAX_ABS_LOGIT_DIFF

    @property
    def verified(self) -> bool:
        """Whether parity was measured at all."""
        return bool(self.cases)

    @property
    def passed(self) -> bool:
        """Whether every verified case meets both thresholds (False when nothing was verified)."""
        return self.verified and all(
            c.argmax_agreement >= self.min_agreement and c.max_abs_diff <= self.max_diff
            for c in self.cases)

    def lines(self) -> List[str]:
        """Return the human-readable report, one string per line (what the CLI prints)."""
        w, h = self.size
        ops = ', '.join(f'{k} {v}' for k, v in sorted(self.op_counts.items()))
        out = [f'wrote {self.path}: opset {self.opset}, input {w}x{h}, '
               f'batch {"dynamic" if self.dynamic_batch else "fixed"}, '
               f'model sha256 {self.model_sha256[:16]}',
               f'operators: {ops}',
               'MaxUnpool nodes: 0, MaxPool indices outputs: 0, onnx.checker: passed']
        for c in self.cases:
            ok = c.argmax_agreement >= self.min_agreement and c.max_abs_diff <= self.max_diff
            out.append(f'parity batch {c.batch} {c.width}x{c.height}: argmax agreement '
                       f'{100 * c.argmax_agreement:.4f}% (>= {100 * self.min_agreement:.1f}%), '
                       f'max |logit diff| {c.max_abs_diff:.2e} (<= {self.max_diff:.0e}) '
                       f'{"PASS" if ok else "FAIL"}; free-running max |logit diff| '
                       f'{c.max_abs_diff_free:.2e}, pooling switches agree in '
                       f'{100 * c.switch_agreement:.4f}% of windows')
        if not self.cases:
            out.append('parity: not verified')
        return out

    def to_dict(self) -> Dict[str, Any]:
        """Plain-container form (for JSON reports)."""
        data = dataclasses.asdict(self)
        data['passed'] = self.passed
        return data


def model_sha256(model: ENet) -> str:
    """Return the SHA-256 (64 hex digits) of a model's architecture and weights.

    Hashed: the architecture, the fused flag and every state_dict tensor (name, shape and bytes).

    Used as the cache key of exported graphs and TensorRT engines: the same weights give the same
    hash in every process; any change of a weight gives another.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(model.arch.to_dict(), sort_keys=True).encode())
    digest.update(b'fused' if model.fused else b'unfused')
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to('cpu', torch.float32).contiguous()
        digest.update(f'{name}:{tuple(t.shape)}'.encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def leaky_relu_for_scalar_prelu(module: torch.nn.Module) -> int:
    """Replace every single-slope ``nn.PReLU`` in ``module`` by the equal ``nn.LeakyReLU``.

    ``LeakyReLU(a)`` computes ``x`` for ``x >= 0`` and ``a * x`` otherwise, exactly as a one-slope
    PReLU does, but exports as ONNX ``LeakyRelu``, which onnxruntime fuses into the preceding
    convolution (a ``PRelu`` node costs a separate pass and a layout reorder there: about a third
    of the davidtvs model's CPU time). Per-channel PReLUs are kept.

    Returns:
        The number of modules replaced.
    """
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.PReLU) and child.weight.numel() == 1:
            setattr(module, name, torch.nn.LeakyReLU(float(child.weight.detach())))
            count += 1
        else:
            count += leaky_relu_for_scalar_prelu(child)
    return count


def _as_model(model_or_ckpt: Union[ENet, str, os.PathLike]) -> ENet:
    if isinstance(model_or_ckpt, ENet):
        return model_or_ckpt
    return load_model(model_or_ckpt)


def sample_images(batch: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic sample images for parity checks: smooth colour gradients, blobs and noise.

    Returns:
        ``(batch, height, width, 3)`` uint8 images (RGB).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    images = np.empty((batch, height, width, 3), np.uint8)
    for i in range(batch):
        img = np.zeros((height, width, 3), np.float32)
        for c in range(3):
            fx, fy, phase = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 2 * np.pi)
            wave = 2 * np.pi * (fx * xx / width + fy * yy / height) + phase
            img[..., c] = 127 + 100 * np.sin(wave)
        for _ in range(6):  # a few flat rectangles (objects with edges)
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            x1 = x0 + rng.integers(1, max(2, width // 3))
            y1 = y0 + rng.integers(1, max(2, height // 3))
            img[y0:y1, x0:x1] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 8, img.shape)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return images


def normalise_images(images: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """Preprocess ``(N, H, W, 3)`` uint8 RGB images as the checkpoint says (no resize).

    Returns:
        ``(N, 3, H, W)`` float32 contiguous network input.
    """
    from enet_ros.inference.preprocess import Normalizer
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    with torch.no_grad():
        return Normalizer(prep, 'RGB')(batch).contiguous()


def _metadata(model: ENet, digest: str, size: Tuple[int, int], dynamic_batch: bool
              ) -> Dict[str, str]:
    meta: Optional[CheckpointMeta] = model.meta
    props = {'model_sha256': digest, 'export_format': str(EXPORT_FORMAT),
             'arch': json.dumps(model.arch.to_dict(), sort_keys=True),
             'input': json.dumps({'name': INPUT_NAME, 'width': size[0], 'height': size[1],
                                  'dynamic_batch': dynamic_batch, 'layout': 'NCHW',
                                  'dtype': 'float32'}),
             'output': json.dumps({'name': OUTPUT_NAME, 'layout': 'NCHW', 'dtype': 'float32',
                                   'kind': 'logits'}),
             'torch_version': str(torch.__version__)}
    if meta is not None:
        props['preprocessing'] = json.dumps(meta.preprocessing.to_dict(), sort_keys=True)
        props['classes'] = json.dumps(meta.classes.to_dict(), sort_keys=True)
        if meta.path:
            props['checkpoint'] = os.path.basename(meta.path)
    return {METADATA_PREFIX + k: v for k, v in props.items()}


def read_metadata(path: Union[str, os.PathLike]) -> Dict[str, str]:
    """Return the ``enet_ros.*`` metadata_props of an exported ONNX file (prefix removed)."""
    import onnx
    model = onnx.load(os.fspath(path), load_external_data=False)
    return {p.key[len(METADATA_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(METADATA_PREFIX)}


def _torch_export(model: torch.nn.Module, example: torch.Tensor, path: str, opset: int,
                  dynamic_batch: bool) -> None:
    """Export with the TorchScript-based exporter (robust here), else with torch.export."""
    dynamic_axes = ({INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}} if dynamic_batch
                    else None)
    with warnings.catch_warnings():
        # The tracer warns about the pad-to-multiple-of-8 branch: the input size is fixed in the
        # graph, so the branch taken at trace time is the right one.
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(model, (example,), path, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset_version=opset,
                              dynamic_axes=dynamic_axes, do_constant_folding=True, dynamo=False)
            return
        except TypeError as exc:  # a torch without the legacy exporter (no ``dynamo`` switch)
            LOG.warning('TorchScript ONNX exporter unavailable (%s); using torch.export', exc)
        dynamic_shapes = ({'x': {0: torch.export.Dim('batch', min=1, max=1024)}}
                          if dynamic_batch else None)
        program = torch.onnx.export(model, (example,), input_names=[INPUT_NAME],
                                    output_names=[OUTPUT_NAME], opset_version=opset,
                                    dynamic_shapes=dynamic_shapes, dynamo=True, optimize=True)
        program.save(path)


def check_graph(onnx_model: Any) -> Dict[str, int]:
    """Run ``onnx.checker`` and refuse operators TensorRT lacks; return the operator counts.

    Raises:
        ExportError: If the checker fails, a ``MaxUnpool`` node exists or a ``MaxPool`` node has an
            indices output.
    """
    import onnx
    try:
        onnx.checker.check_model(onnx_model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f'onnx.checker rejected the exported graph: {exc}') from exc
    counts = collections.Counter(n.op_type for n in onnx_model.graph.node)
    for graph in _subgraphs(onnx_model.graph):
        for node in graph.node:
            if node.op_type == 'MaxUnpool':
                raise ExportError(f'the graph has a MaxUnpool node ({node.name}); TensorRT cannot '
                                  'run it. Export with set_unpool_impl("pixel_shuffle")')
            if node.op_type == 'MaxPool' and len([o for o in node.output if o]) > 1:
                raise ExportError(f'MaxPool node {node.name} has an indices output; TensorRT has '
                                  'none')
    return dict(counts)


def _subgraphs(graph: Any) -> List[Any]:
    out = [graph]
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.g.node:
                out.extend(_subgraphs(attr.g))
            for g in attr.graphs:
                out.extend(_subgraphs(g))
    return out


def _switch_outputs(onnx_model: Any) -> List[str]:
    """Return the names of the ArgMax outputs (the pooling switches) of an exported ENet."""
    return [n.output[0] for n in onnx_model.graph.node if n.op_type == 'ArgMax']


def _session_with_switches(path: str) -> Tuple[Any, List[str]]:
    """Open ``path`` in onnxruntime (CPU) with the pooling switches as extra outputs."""
    import onnx
    import onnxruntime as ort
    onnx_model = onnx.load(path)
    switches = _switch_outputs(onnx_model)
    for name in switches:
        onnx_model.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(onnx_model.SerializeToString(), options,
                                   providers=['CPUExecutionProvider'])
    return session, switches


def _forced_switch_logits(reference: ENet, x: torch.Tensor, switches: Sequence[np.ndarray]
                          ) -> Tuple[torch.Tensor, float]:
    """Run ``reference`` with its pooling switches replaced by ``switches``.

    Returns:
        The logits, and the fraction of pooling windows whose own switch equals the given one.
    """
    model = copy.deepcopy(reference).set_unpool_impl('pixel_shuffle')
    pools = [m for m in model.modules() if isinstance(m, MaxPoolWithIndices)]
    same, total = [0], [0]

    def forced(module: MaxPoolWithIndices, given: np.ndarray):
        original = module.forward

        def forward(inp: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
            values, own = original(inp)
            switch = torch.from_numpy(given).reshape(own.shape)
            same[0] += int((switch == own).sum())
            total[0] += own.numel()
            return values, switch
        return forward

    for module, given in zip(pools, switches):
        module.forward = forced(module, given)
    with torch.inference_mode():
        logits = model(x).float()
    return logits, same[0] / max(1, total[0])


def verify_onnx(path: Union[str, os.PathLike], reference: ENet, batches: Sequence[int],
                size: Tuple[int, int], prep: Preprocessing, seed: int = 0) -> List[ParityCase]:
    """Compare onnxruntime (CPU, fp32) with ``reference`` (PyTorch, fp32, CPU) on sample images.

    Max-unpooling is discontinuous: where two values of a pooling window are within fp32 rounding
    of each other, any change of rounding (folding BatchNorm, another convolution algorithm) can
    move the window's maximum, and the unpooled value then lands one pixel away, which changes the
    logits near that pixel by up to about 1 while the class ids hardly change. So the logits are
    compared with the pooling switches aligned: the PyTorch model is run again with the switches
    the ONNX graph chose (read from its ArgMax outputs), which isolates the numerical difference.
    The argmax agreement is measured against the free-running PyTorch model, and its max logit
    difference is reported too.

    Args:
        path: The ONNX file.
        reference: The PyTorch model to compare with (kept unchanged).
        batches: Batch sizes to try.
        size: Input ``(width, height)`` in pixels.
        prep: Preprocessing applied to the sample images.
        seed: Seed of :func:`sample_images`.

    Returns:
        One :class:`ParityCase` per batch size.
    """
    session, switch_names = _session_with_switches(os.fspath(path))
    n_pools = sum(isinstance(m, MaxPoolWithIndices) for m in reference.modules())
    aligned = len(switch_names) == n_pools
    if not aligned:
        LOG.warning('found %d ArgMax nodes for %d poolings: comparing free-running logits only',
                    len(switch_names), n_pools)
    width, height = size
    cases = []
    for i, batch in enumerate(batches):
        x = normalise_images(sample_images(batch, height, width, seed + i), prep)
        with torch.inference_mode():
            free = reference(x).float()
        outputs = session.run([OUTPUT_NAME] + (switch_names if aligned else []),
                              {INPUT_NAME: x.numpy()})
        got = torch.from_numpy(outputs[0])
        if got.shape != free.shape:
            raise ExportError(f'onnxruntime output {tuple(got.shape)} differs from PyTorch '
                              f'{tuple(free.shape)}')
        free_diff = float((got - free).abs().max())
        if aligned:
            forced, switch_agreement = _forced_switch_logits(reference, x, outputs[1:])
            diff = float((got - forced).abs().max())
        else:
            diff, switch_agreement = free_diff, float('nan')
        agreement = float((got.argmax(1) == free.argmax(1)).float().mean())
        cases.append(ParityCase(batch, height, width, agreement, diff, free_diff,
                                switch_agreement))
    return cases


def max_opset() -> int:
    """Return the highest ONNX opset that both torch's exporter and the onnx package support."""
    import onnx
    highest = int(onnx.defs.onnx_opset_version())
    try:  # private, but the only place torch states its limit; without it, onnx's limit stands
        from torch.onnx import _constants
        highest = min(highest, int(_constants.ONNX_MAX_OPSET))
    except (ImportError, AttributeError):
        pass
    return highest


def export_onnx(model_or_ckpt: Union[ENet, str, os.PathLike], path: Union[str, os.PathLike],
                size: Optional[Tuple[int, int]] = None, dynamic_batch: bool = False,
                opset: int = MIN_OPSET, verify: bool = True, batch: int = 1,
                check: bool = False, seed: int = 0) -> ParityReport:
    """Export ENet to ONNX without MaxUnpool, check the graph and verify it against PyTorch.

    Args:
        model_or_ckpt: An :class:`ENet` (not modified: a copy is exported) or a checkpoint path.
        path: Output ``.onnx`` file (written atomically; parent folders are created).
        size: Input ``(width, height)`` in pixels; default: the checkpoint's resolution. Any size
            >= 1 (not necessarily a multiple of 8).
        dynamic_batch: Make the batch dimension dynamic (else fixed to ``batch``).
        opset: ONNX opset, from 17 to :func:`max_opset`.
        verify: Compare onnxruntime with PyTorch: batch 1, and also batch 3 when the batch is
            dynamic (else the fixed ``batch``).
        batch: The fixed batch size when ``dynamic_batch`` is False (also the trace's example
            batch).
        check: Raise :class:`ExportError` when the parity thresholds are not met.
        seed: Seed of the sample images.

    Returns:
        The :class:`ParityReport`.

    Raises:
        ValueError: For a bad size, batch or opset, no size given for a checkpoint without one,
            or a ``path`` that is a directory.
        ExportError: When the graph fails a structural check, or parity fails with ``check``.
        ImportError: When onnx (or onnxruntime, for ``verify``) is not installed.
    """
    import onnx
    if opset < MIN_OPSET:
        raise ValueError(f'opset {opset} is too old: ENet needs opset >= {MIN_OPSET} here')
    if opset > max_opset():
        raise ValueError(f'opset {opset} is newer than this torch / onnx can write (highest: '
                         f'{max_opset()}): choose an opset in {MIN_OPSET}..{max_opset()}')
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f'ONNX output {path!r} is a directory: give a file name (e.g. '
                         'enet.onnx)')
    if batch < 1:
        raise ValueError(f'batch must be >= 1, got {batch}')
    model = _as_model(model_or_ckpt)
    meta = model.meta
    prep = meta.preprocessing if meta is not None else Preprocessing()
    if size is None:
        size = prep.resolution
    if size is None:
        raise ValueError('the checkpoint declares no resolution: give the export size '
                         '(--size WxH)')
    size = (int(size[0]), int(size[1]))
    if min(size) < 1:
        raise ValueError(f'export size {size} must be >= 1 pixel')
    digest = model_sha256(model)

    reference = copy.deepcopy(model).float().cpu().eval()
    reference.set_unpool_impl('native')
    exported = copy.deepcopy(model).float().cpu().eval()
    if not exported.fused:
        fuse_all(exported)
    exported.set_unpool_impl('pixel_shuffle')
    leaky_relu_for_scalar_prelu(exported)

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    width, height = size
    example = torch.zeros(batch, model.arch.in_channels, height, width)
    LOG.info('exporting %s to ONNX (opset %d, %dx%d, batch %s)', digest[:16], opset, width, height,
             'dynamic' if dynamic_batch else batch)
    try:
        with torch.no_grad():
            _torch_export(exported, example, tmp, opset, dynamic_batch)
        onnx_model = onnx.load(tmp)
        counts = check_graph(onnx_model)
        for key, value in _metadata(model, digest, size, dynamic_batch).items():
            entry = onnx_model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx_model.doc_string = (f'ENet ({model.arch.variant}) exported by enet_ros without '
                                 'MaxUnpool')
        onnx.save(onnx_model, tmp)
        report = ParityReport(path, opset, size, dynamic_batch, digest, counts)
        if verify:
            batches = [1, 3] if dynamic_batch else [batch]
            report.cases = verify_onnx(tmp, reference, batches, size, prep, seed)
        # DEBUG: `enet-ros export` prints these lines itself; the backends' cache builds only
        # need the INFO line above.
        for line in report.lines():
            LOG.debug('%s', line)
        if check and verify and not report.passed:
            raise ExportError('ONNX parity check failed (file not written):\n'
                              + '\n'.join(report.lines()))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return report
