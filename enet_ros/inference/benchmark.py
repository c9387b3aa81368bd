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

"""Latency, throughput and memory of inference backends, against the seed code in the same run.

What is timed (wall clock, ``time.perf_counter``; on CUDA the device is synchronised before and
after):

* **end to end** (``latency_ms``): a :class:`~enet_ros.inference.Segmenter` call, from ``(H, W,
  3)`` uint8 images to NumPy class ids *and* confidence (what the ROS node publishes),
  preprocessing and postprocessing included. For a batch, the time of the whole call (what each
  frame of it waits); ``per_frame_ms`` divides by the batch size;
* **model only** (``model_ms``): the backend's ``run`` on an already preprocessed batch;
* **the baseline**: the seed document's ENet code path
  (:func:`enet_ros.model.seed_reference.SeedENet`, eager fp32, seed-initialised weights: its speed
  does not depend on the values) on the same device, size and batch, used the way that code is
  used: ``uint8 (N, H, W, 3) -> permute -> float / 255 -> model -> argmax(1) -> uint8 NumPy``. It
      needs H and W divisible by 8 (its skip connections fail otherwise), so
  it is skipped (with a reason in the report) for other sizes.

Baseline and candidates are interleaved (one call of each per round, in a rotating order) so that
load from other processes affects them alike; medians and 90th percentiles are reported, and
``speedup_vs_baseline`` is the ratio of the medians of the same run.

Peak memory: on CUDA, the peak of PyTorch's caching allocator while the candidate is built, warmed
up and run (``torch.cuda.max_memory_allocated``; memory that onnxruntime / TensorRT allocate
themselves is not in it). On the CPU, the peak resident set size of the process while the candidate
is built, warmed up and run, minus the resident size before (Linux ``/proc/self/status`` VmHWM,
reset through ``/proc/self/clear_refs``; elsewhere the growth of ``getrusage().ru_maxrss``, which
only sees new peaks). It includes the weights, the activations, the runtime's arenas and any
library code loaded on first use.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from enet_ros.inference.export import sample_images
from enet_ros.model.checkpoint import load_model
from enet_ros.model.enet import ENet
import numpy as np
import torch

LOG = logging.getLogger(__name__)

BASELINE_NAME = 'seed ENet (seed_reference.SeedENet), eager fp32'


@dataclasses.dataclass
class Candidate:
    """One configuration to benchmark.

    Attributes:
        name: Label in tables and reports.
        backend: ``'torch'``, ``'onnxruntime'`` or ``'tensorrt'``.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'``.
        options: Backend options passed to the :class:`~enet_ros.inference.Segmenter`.
    """

    name: str
    backend: str = 'torch'
    device: str = 'cpu'
    precision: str = 'fp32'
    options: Dict[str, Any] = dataclasses.field(default_factory=dict)


def summarize(times_ms: Sequence[float]) -> Dict[str, float]:
    """Median, 90th percentile, mean and minimum of wall times in milliseconds."""
    a = np.asarray(times_ms, dtype=np.float64)
    return {'median': float(np.median(a)), 'p90': float(np.percentile(a, 90)),
            'mean': float(a.mean()), 'min': float(a.min()), 'count': int(a.size)}


class _Memory:
    """Peak memory of one phase (see the module docstring for the method)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = ''
        self._start = 0.0

    @staticmethod
    def _status_kb(field: str) -> Optional[int]:
        try:
            with open('/proc/self/status', encoding='ascii') as f:
                for line in f:
                    if line.startswith(field + ':'):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def start(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = float(torch.cuda.memory_allocated(self.device))
            self.method = 'torch.cuda.max_memory_allocated (PyTorch allocator only)'
            return
        rss = self._status_kb('VmRSS')
        try:
            with open('/proc/self/clear_refs', 'w', encoding='ascii') as f:
                f.write('5')  # reset VmHWM (peak RSS) to the current RSS
            self._start = float(rss) * 1024.0
            self.method = 'peak RSS (VmHWM) during build, warm-up and runs minus RSS before'
        except OSError:
            import resource
            self._start = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024.0
            self.method = 'growth of getrusage ru_maxrss (new peaks only)'

    def stop_mb(self) -> float:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            return (torch.cuda.max_memory_allocated(self.device) - self._start) / 2**20
        if self.method.startswith('peak RSS'):
            return max(0.0, (self._status_kb('VmHWM') or 0) * 1024.0 - self._start) / 2**20
        import resource
        return max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
                   - self._start) / 2**20


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class SeedBaseline:
    """The seed code path, timed end to end and model only (see the module docstring).

    Args:
        num_classes: Output classes (the candidate's, so the final layer costs the same).
        device: Where it runs.
        seed: Seed of the weight initialisation.

    Raises:
        ValueError: From :meth:`check_size` callers when H or W is not divisible by 8.
    """

    def __init__(self, num_classes: int, device: torch.device, seed: int = 0) -> None:
        from enet_ros.model.seed_reference import SeedENet
        torch.manual_seed(seed)
        self.device = device
        self.model = SeedENet(num_classes).eval().to(device)

    @staticmethod
    def skip_reason(width: int, height: int) -> Optional[str]:
        """Why the seed code cannot run at ``width`` x ``height`` (None if it can)."""
        if width % 8 or height % 8:
            return (f'the seed code needs sizes divisible by 8 (its skip connections do not match '
                    f'otherwise); {width}x{height} is not')
        return None

    @torch.no_grad()
    def end_to_end(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Return ``(N, H, W)`` uint8 class ids of ``(H, W, 3)`` uint8 images, the seed way."""
        batch = torch.from_numpy(np.stack(images)).to(self.device)
        x = batch.permute(0, 3, 1, 2).contiguous().float() / 255.0
        ids = self.model(x).argmax(dim=1)
        return ids.to(torch.uint8).cpu().numpy()

    def prepare(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Return the seed model's input for ``images`` (for model-only timing)."""
        batch = torch.from_numpy(np.stack(images)).to(self.device)
        return batch.permute(0, 3, 1, 2).contiguous().float() / 255.0

    @torch.no_grad()
    def model_only(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the seed model for a prepared input."""
        return self.model(x)


def _as_model(weights: Union[str, os.PathLike, ENet]) -> ENet:
    model = weights if isinstance(weights, ENet) else load_model(weights)
    if model.meta is None:
        raise ValueError('the model has no checkpoint metadata (model.meta); load it with '
                         'load_model()')
    return model


def environment() -> Dict[str, Any]:
    """Versions, CPU / GPU and load of the machine (recorded with every report)."""
    env: Dict[str, Any] = {'python': platform.python_version(), 'torch': torch.__version__,
                           'torch_threads': torch.get_num_threads(), 'cpu_count': os.cpu_count(),
                           'machine': platform.machine(), 'cpu': _cpu_name()}
    try:
        import onnxruntime
        env['onnxruntime'] = onnxruntime.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        env['gpu'] = torch.cuda.get_device_name(0)
        env['cuda'] = torch.version.cuda
    if hasattr(os, 'getloadavg'):
        env['loadavg'] = [round(v, 2) for v in os.getloadavg()]
    return env


def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def compare(weights: Union[str, os.PathLike, ENet], candidates: Sequence[Candidate],
            size: Tuple[int, int] = (640, 480), batch: int = 1, iters: int = 30, warmup: int = 3,
            baseline: bool = True, images: Optional[Sequence[np.ndarray]] = None,
            agreement: bool = True, seed: int = 0) -> Dict[str, Any]:
    """Benchmark several candidates and the seed baseline, interleaved in one run.

    Args:
        weights: Checkpoint path or loaded :class:`ENet` (with ``meta``).
        candidates: The configurations to time.
        size: Image and network ``(width, height)`` in pixels (the network runs at the image size:
            resize policy ``native``).
        batch: Images per call.
        iters: Timed rounds (each round times every candidate and the baseline once).
        warmup: Untimed rounds first.
        baseline: Time the seed code path too.
        images: ``batch`` images ``(height, width, 3)`` uint8 RGB; default: deterministic synthetic
            images (:func:`enet_ros.inference.export.sample_images`).
        agreement: Compare every candidate's class ids with the torch fp32 path (same device).
        seed: Seed of the synthetic images and of the baseline's weights.

    Returns:
        ``{'size', 'batch', 'iterations', 'baseline', 'candidates': [report, ...], 'environment'}``
        where each report holds ``latency_ms``, ``model_ms``, ``per_frame_ms``, ``throughput_fps``,
        ``peak_memory_mb``, ``startup_s``, ``class_id_agreement`` and ``speedup_vs_baseline``.

    Raises:
        ValueError: For a bad size, batch, image list or device (``'cpu'``, ``'cuda'`` or
            ``'cuda:N'``; CUDA must be available), checked before anything is built.
    """
    from enet_ros.inference.backends import parse_device
    from enet_ros.inference.segmenter import Segmenter
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1 or batch < 1 or iters < 1:
        raise ValueError(f'size {size}, batch {batch} and iters {iters} must be positive')
    # Devices first (the memory probe below touches CUDA before any backend checks the device).
    devices = [parse_device(cand.device) for cand in candidates]
    model = _as_model(weights)
    if images is None:
        images = list(sample_images(batch, height, width, seed))
    images = list(images)
    if len(images) != batch or any(img.shape != (height, width, 3) for img in images):
        raise ValueError(f'need {batch} images of shape ({height}, {width}, 3)')
    env_before = environment()

    timers: List[Tuple[str, str, Callable[[], Any], torch.device]] = []
    reports: List[Dict[str, Any]] = []
    segmenters = []
    for cand, device in zip(candidates, devices):
        LOG.info('building %s (%s %s %s %s)', cand.name, cand.backend, cand.device, cand.precision,
                 cand.options)
        memory = _Memory(device)
        memory.start()
        start = time.perf_counter()
        seg = Segmenter(model, backend=cand.backend, device=cand.device, precision=cand.precision,
                        resize_policy='native', input_order='RGB', warmup=False, **cand.options)
        for _ in range(max(1, warmup)):
            seg(images if batch > 1 else images[0])
        _sync(seg.device)
        startup = time.perf_counter() - start
        peak = memory.stop_mb()
        x = seg.network_input(images)
        segmenters.append(seg)
        reports.append({'name': cand.name, 'backend': cand.backend, 'device': cand.device,
                        'precision': cand.precision, 'options': dict(cand.options),
                        'description': seg.backend.description, 'startup_s': startup,
                        'peak_memory_mb': peak, 'memory_method': memory.method})
        timers.append((cand.name, 'e2e', _e2e_call(seg, images, batch), seg.device))
        timers.append((cand.name, 'model', _model_call(seg, x), seg.device))

    base_report: Dict[str, Any] = {'name': BASELINE_NAME}
    base_device = devices[0] if devices else torch.device('cpu')
    skip = SeedBaseline.skip_reason(width, height) if baseline else 'not requested'
    if skip is None:
        memory = _Memory(base_device)
        memory.start()
        base = SeedBaseline(model.arch.num_classes, base_device, seed)
        bx = base.prepare(images)
        for _ in range(max(1, warmup)):
            base.end_to_end(images)
        base_report['peak_memory_mb'] = memory.stop_mb()
        timers.append((BASELINE_NAME, 'e2e', lambda: base.end_to_end(images), base_device))
        timers.append((BASELINE_NAME, 'model', lambda: base.model_only(bx), base_device))
    else:
        base_report['skipped'] = skip

    times: Dict[Tuple[str, str], List[float]] = {(n, k): [] for n, k, _, _ in timers}
    for r in range(warmup + iters):
        shift = r % max(1, len(timers))
        for name, kind, call, device in timers[shift:] + timers[:shift]:
            _sync(device)
            t0 = time.perf_counter()
            call()
            _sync(device)
            if r >= warmup:
                times[(name, kind)].append((time.perf_counter() - t0) * 1e3)

    if skip is None:
        base_report['latency_ms'] = summarize(times[(BASELINE_NAME, 'e2e')])
        base_report['model_ms'] = summarize(times[(BASELINE_NAME, 'model')])
        base_report['throughput_fps'] = batch * 1e3 / base_report['latency_ms']['median']
    reference = _reference_ids(model, candidates, images) if agreement and candidates else None
    for cand, seg, rep in zip(candidates, segmenters, reports):
        rep['latency_ms'] = summarize(times[(cand.name, 'e2e')])
        rep['model_ms'] = summarize(times[(cand.name, 'model')])
        rep['per_frame_ms'] = rep['latency_ms']['median'] / batch
        rep['throughput_fps'] = batch * 1e3 / rep['latency_ms']['median']
        if skip is None:
            rep['speedup_vs_baseline'] = (base_report['latency_ms']['median']
                                          / rep['latency_ms']['median'])
            rep['model_speedup_vs_baseline'] = (base_report['model_ms']['median']
                                                / rep['model_ms']['median'])
        else:
            rep['speedup_vs_baseline'] = None
        if reference is not None:
            results = _as_list(seg(images if batch > 1 else images[0]))
            ids = np.stack([s.class_ids for s in results])
            ref = reference[torch.device(cand.device).type]
            rep['class_id_agreement'] = float(np.mean(ids == ref))
            rep['agreement_reference'] = f'torch fp32 on {torch.device(cand.device).type}'
    return {'size': [width, height], 'batch': batch, 'iterations': iters, 'warmup': warmup,
            'baseline': base_report, 'candidates': reports,
            'environment': {**env_before, 'loadavg_after': environment().get('loadavg')}}


def _as_list(result: Any) -> List[Any]:
    return result if isinstance(result, list) else [result]


def _e2e_call(seg: Any, images: Sequence[np.ndarray], batch: int) -> Callable[[], Any]:
    if batch == 1:
        image = images[0]
        return lambda: seg(image)
    return lambda: seg(images)


def _model_call(seg: Any, x: torch.Tensor) -> Callable[[], Any]:
    return lambda: seg.backend.run(x)


def _reference_ids(model: ENet, candidates: Sequence[Candidate], images: Sequence[np.ndarray]
                   ) -> Dict[str, np.ndarray]:
    """Return the class ids of the torch fp32 path per device type the candidates use."""
    from enet_ros.inference.segmenter import Segmenter
    out = {}
    for cand in candidates:
        kind = torch.device(cand.device).type
        if kind in out:
            continue
        seg = Segmenter(model, backend='torch', device=cand.device, precision='fp32',
                        resize_policy='native', warmup=False)
        out[kind] = np.stack([s.class_ids for s in _as_list(seg(list(images)))])
    return out


def benchmark(weights: Union[str, os.PathLike, ENet], backend: str = 'torch', device: str = 'cpu',
              precision: str = 'fp32', size: Tuple[int, int] = (640, 480), batch: int = 1,
              iters: int = 30, warmup: int = 3, baseline: bool = True,
              options: Optional[Dict[str, Any]] = None, seed: int = 0) -> Dict[str, Any]:
    """Benchmark one backend configuration against the seed baseline (``enet-ros benchmark``).

    Args:
        weights: Checkpoint path or loaded :class:`ENet` (with ``meta``).
        backend: ``'torch'``, ``'onnxruntime'`` or ``'tensorrt'``.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'``.
        size: Image and network ``(width, height)`` in pixels.
        batch: Images per call.
        iters: Timed rounds.
        warmup: Untimed rounds first.
        baseline: Time the seed code path too.
        options: Backend options (e.g. ``{'channels_last': False}``).
        seed: Seed of the synthetic images and of the baseline's weights.

    Returns:
        The candidate's report with the keys ``latency_ms.median``, ``latency_ms.p90``,
        ``model_ms.median``, ``throughput_fps``, ``peak_memory_mb``, ``baseline.latency_ms.median``
        and ``speedup_vs_baseline`` (nested dicts), plus the settings and the environment.
    """
    name = f'{backend} {device} {precision}'
    result = compare(weights, [Candidate(name, backend, device, precision, dict(options or {}))],
                     size=size, batch=batch, iters=iters, warmup=warmup, baseline=baseline,
                     seed=seed)
    report = dict(result['candidates'][0])
    report.update({'size': result['size'], 'batch': batch, 'iterations': iters,
                   'baseline': result['baseline'], 'environment': result['environment']})
    return report
