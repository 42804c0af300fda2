"""Time and memory of PAFU and ACDA as ratios to ``nn.Conv2d``, in one run.

For each shape, every formulation is timed in interleaved rounds, each
ratio the median over rounds of the times measured side by side, with freed
CPU memory kept in the heap (``--allocator``); peak CPU training memory is
measured in a fresh process per formulation (peak RSS beyond inputs and
parameters). Also prints the MAC count of each layer and its ratio to the
layer's limit. Formulations: the layer, the obvious one
(``pafu_plain``, ``acda_unfold``), and for PAFU the ``nn.Conv2d`` that deploy
conversion makes of a unit that picks one kernel (``pafu_deployed``).
Timings are noisy on shared machines: compare ratios from one run, never
absolute numbers across runs; ``--clock cpu`` with ``OMP_NUM_THREADS=1``
times CPU work, which other processes disturb far less than wall time.

On a GPU (``--device cuda``) each run is timed by CUDA events after a
synchronisation, peak memory is the ``max_memory_allocated`` of a training
step beyond what was allocated before it (in this process), and fp32 runs
without TF32 (convolutions and matrix products) unless ``--tf32 on``, so
that the conv and the layers compute alike; fp32 rows on CUDA say which.
``--dtypes bf16`` runs every formulation under autocast, as mixed-precision
training does; rows name their dtype unless it is fp32.

``--tables`` picks the tables (default ``layers``, the one above):

- ``whole-step``: one training iteration of PAFU-ESPCN and of PSPNet with
  PAFU-PPM against their plain twins (whole_step_models.py: the configs'
  nets, batches, losses and optimizers, in plain torch);
- ``formulations``: PAFU's selected convolution computed each way, per PAFU
  shape, against the conv: the Triton kernels of ``--baseline`` (a git
  revision, or a folder holding that revision's
  ``selected_conv_cuda.py`` and a ``REVISION`` file), today's Triton
  kernels with each selection gradient (``SELECTION_GRADIENT``: ``cudnn``,
  dense cuDNN convolutions, or ``triton``, the fused kernel), the
  Triton-free path (``torch``) and the naive ``n``-conv (``pafu_plain``).
  The Triton rows need a GPU, or ``TRITON_INTERPRET=1`` on the CPU (tiny
  shapes only: it checks the code paths).

With ``--onnx`` (CPU), a second table: each layer exported to ONNX and
run in onnxruntime, its inference time over the PyTorch eval forward's and
over the conv's in onnxruntime.

Example::

    .venv/bin/python tools/analysis/benchmark_layers.py --shapes p64 a128
    OMP_NUM_THREADS=1 .venv/bin/python tools/analysis/benchmark_layers.py \
        --clock cpu
    python tools/analysis/benchmark_layers.py --device cuda \
        --shapes p64 p512 a256 a128 --dtypes fp32 bf16 --repeats 20
    python tools/analysis/benchmark_layers.py --device cuda \
        --tables whole-step formulations --baseline 16647ec \
        --shapes p64 p512 --dtypes bf16 fp32 --tf32 off on
    .venv/bin/python tools/analysis/benchmark_layers.py --shapes p64 a256 \
        --markdown docs/benchmarks_cpu.md

``--markdown PATH`` also writes the table to ``PATH`` under one line naming
the machine, the torch version, the commit and the command (what
docs/benchmarks.md is made of).
"""
import argparse
import contextlib
import ctypes
import functools
import gc
import importlib
import importlib.util
import io
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from types import ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from pafu_acda_mm.engine import pafu_to_conv2d
from pafu_acda_mm.layers import ACDA, PAFU, straight_through_gumbel_softmax
from pafu_acda_mm.ops import selected_conv
from pafu_acda_mm.torch_compat import onnx_export

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whole_step_models  # noqa: E402  (beside this script)

# name: (batch, in, out, size, num_kernels, kernel_size)
PAFU_SHAPES = {
    'p64': (8, 64, 64, 56, 16, 3),
    'p512': (1, 512, 512, 64, 8, 3),
    'p1024': (2, 1024, 512, 64, 8, 3),
    'p8': (1, 8, 8, 8, 4, 3),  # checks code paths (tests, the interpreter)
}
# name: (batch, channels, size, kernel_size)
ACDA_SHAPES = {
    'a256': (1, 256, 100, 7),
    'a128': (16, 128, 28, 7),
    'a64': (8, 64, 48, 7),
}
# --dtypes: fp32, or autocast to a 16-bit dtype.
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


class PlainPAFU(nn.Module):
    """PAFU the obvious way: one conv with ``n * C_out`` outputs, weighted by
    the straight-through selection under plain autograd."""

    def __init__(self, pafu: PAFU):
        super().__init__()
        self.pafu = pafu

    def forward(self, x):
        pafu = self.pafu
        selection = straight_through_gumbel_softmax(
            pafu.selection_logits(x), pafu.tau, sample=self.training)
        responses = F.conv2d(x, pafu.kernels, pafu.bias, pafu.stride,
                             pafu.padding, pafu.dilation)
        responses = responses.view(x.shape[0], pafu.num_kernels, -1,
                                   *responses.shape[-2:])
        return (responses * selection[:, :, None]).sum(1)


class UnfoldACDA(nn.Module):
    """ACDA as the authors' code computes it: unfold the input k*k times and
    contract every window with the per-pixel atoms."""

    def __init__(self, acda: ACDA):
        super().__init__()
        self.acda = acda

    def forward(self, x):
        acda = self.acda
        size = acda.kernel_size[0]
        coeffs = acda.atom_generator(x, acda.kernel_size, acda.stride,
                                     acda.padding, acda.dilation)
        batch, _, out_h, out_w = coeffs.shape
        bases = torch.cat([
            F.pad(b, [(size - b.shape[-1]) // 2] * 4) for b in acda.fb_bases
        ]).flatten(1)
        atoms = torch.einsum('bakl,kt->batl',
                             coeffs.view(batch, acda.num_atoms, -1,
                                         out_h * out_w), bases)
        windows = F.unfold(x, size, acda.dilation, acda.padding, acda.stride)
        windows = windows.view(batch, acda.in_channels, size * size, -1)
        atom_out = torch.einsum('bctl,batl->bcal', windows, atoms)
        atom_out = atom_out.reshape(batch, -1, out_h, out_w)
        return F.conv2d(atom_out, acda.weight, acda.bias)


def build(name: str, shape: str) -> nn.Module:
    """The module ``name`` for ``shape``; deterministic given the seed."""
    torch.manual_seed(0)
    if shape in PAFU_SHAPES:
        _, cin, cout, _, num_kernels, k = PAFU_SHAPES[shape]
        if name == 'conv':
            return nn.Conv2d(cin, cout, k, padding=k // 2)
        pafu = PAFU(cin, cout, k, padding=k // 2, num_kernels=num_kernels)
        if name == 'pafu_deployed':  # a unit that picks one kernel
            return pafu_to_conv2d(pafu, kernel=0)
        return {'pafu': pafu, 'pafu_plain': PlainPAFU(pafu)}[name]
    _, channels, _, k = ACDA_SHAPES[shape]
    if name == 'conv':
        return nn.Conv2d(channels, channels, k, padding=k // 2)
    acda = ACDA(channels, channels, k, padding=k // 2)
    return {'acda': acda, 'acda_unfold': UnfoldACDA(acda)}[name]


def make_input(shape: str, device: str) -> torch.Tensor:
    if shape in PAFU_SHAPES:
        batch, cin, _, size = PAFU_SHAPES[shape][:4]
    else:
        batch, cin, size = ACDA_SHAPES[shape][:3]
    return torch.randn(batch, cin, size, size, device=device)


def formulations(shape: str):
    return (['conv', 'pafu', 'pafu_plain', 'pafu_deployed']
            if shape in PAFU_SHAPES else
            ['conv', 'acda', 'acda_unfold'])


def step(module: nn.Module, x: torch.Tensor, train: bool,
         dtype: torch.dtype = torch.float32) -> Callable:
    """One forward (eval, no grad) or forward+backward (train) of a layer
    inside a network, under autocast to ``dtype`` unless it is fp32:
    training also computes the input's gradient."""
    module.train(train)
    if train:
        x = x.detach().requires_grad_()

    def run():
        with whole_step_models.autocast_to(x.device.type, dtype):
            if train:
                module.zero_grad(set_to_none=True)
                x.grad = None
                module(x).float().sum().backward()
            else:
                with torch.no_grad():
                    module(x)
        if x.is_cuda:
            torch.cuda.synchronize()

    return run


# --clock choices: wall time, or this process's CPU time (all threads), which
# other processes on a shared machine disturb far less.
CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """``--clock {wall,cpu}`` (default wall; see :data:`CLOCKS`) and
    ``--allocator {heap,system}`` (see :func:`keep_freed_memory_in_heap`)."""
    parser.add_argument(
        '--clock', choices=[*CLOCKS, 'cuda'],
        help='wall time (default on the CPU), process CPU time (CPU only: '
        'robust on a shared machine, use with OMP_NUM_THREADS set), or CUDA '
        'events (default with --device cuda)')
    parser.add_argument(
        '--allocator', default='heap', choices=['heap', 'system'],
        help='heap: CPU tensors reuse freed heap memory, as with a caching '
        'allocator (default); system: glibc defaults, where a large tensor '
        'is a fresh mmap and pays its page faults')


def add_markdown_argument(parser: argparse.ArgumentParser) -> None:
    """``--markdown PATH``: also write the table there (see
    :func:`write_markdown`)."""
    parser.add_argument(
        '--markdown', metavar='PATH',
        help='also write the table to PATH as markdown, under a line naming '
        'the machine, torch version, commit and command')


def machine_name(device: str) -> str:
    """The CPU's model name (``/proc/cpuinfo``) and thread count, or the
    GPU's name for ``device='cuda'``."""
    if device == 'cuda':
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            cpu = next(line.split(':', 1)[1].strip() for line in cpuinfo
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {torch.get_num_threads()} threads'


# The code a timing depends on: a run with changes here names them.
_TIMED_SOURCES = ('pafu_acda_mm/layers', 'pafu_acda_mm/ops', 'pafu_acda_mm/csrc',
                  'tools/analysis')


def commit_name() -> str:
    """``git rev-parse --short HEAD``, marked when the timed sources differ
    from it; ``unknown`` outside a git checkout or without git (the GPU
    machine gets the working tree alone)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

    def git(*args) -> subprocess.CompletedProcess:
        return subprocess.run(['git', '-C', repo, *args],
                              capture_output=True, text=True)

    try:
        head = git('rev-parse', '--short', 'HEAD')
    except OSError:
        return 'unknown'
    if head.returncode != 0:
        return 'unknown'
    dirty = git('diff', '--quiet', 'HEAD', '--', *_TIMED_SOURCES).returncode
    return head.stdout.strip() + (' with uncommitted changes' if dirty else '')


def markdown_header(device: str) -> str:
    """One line naming the machine, torch, the commit and this process's
    command line; taken before timing, so a commit made meanwhile is not
    named."""
    command = ' '.join(
        shlex.quote(arg) for arg in [
            f'tools/analysis/{os.path.basename(sys.argv[0])}', *sys.argv[1:]
        ])
    return (f'Machine: {machine_name(device)}; torch {torch.__version__}; '
            f'commit {commit_name()}; command: `{command}`.')


def write_markdown(path: Optional[str], header: str,
                   table: List[str]) -> None:
    """Write ``table`` (markdown lines) to ``path`` under ``header`` (see
    :func:`markdown_header`); nothing when ``path`` is None."""
    if path is None:
        return
    with open(path, 'w') as out:
        out.write('\n'.join([header, '', *table]) + '\n')


def setup_timing(parser: argparse.ArgumentParser, args) -> None:
    """Exit with a usage error for CUDA without a GPU or timed by CPU time,
    or CUDA events without CUDA; choose the default clock; apply
    ``--allocator``; on CUDA, turn TF32 off (fp32 is fp32; see
    :func:`precisions` for ``--tf32``)."""
    if args.device == 'cuda' and args.clock == 'cpu':
        parser.error('--clock cpu does not time CUDA kernels; use --clock '
                     'cuda or wall with --device cuda')
    if args.device != 'cuda' and args.clock == 'cuda':
        parser.error('--clock cuda times CUDA kernels: use it with --device '
                     'cuda')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available here')
    args.clock = args.clock or ('cuda' if args.device == 'cuda' else 'wall')
    if args.device == 'cuda':
        set_tf32(False)
    if args.allocator == 'heap':
        keep_freed_memory_in_heap()


def set_tf32(enabled: bool) -> None:
    """TF32 for fp32 convolutions (cuDNN) and matrix products."""
    torch.backends.cudnn.allow_tf32 = enabled
    torch.backends.cuda.matmul.allow_tf32 = enabled


def precisions(dtypes: List[str], device: str,
               tf32: List[str]) -> Iterator[Tuple[str, torch.dtype]]:
    """``(row label suffix, dtype)`` for each of ``dtypes``, with TF32 set
    for the runs that follow: fp32 on CUDA once per ``tf32`` setting
    (``'off'``, ``'on'``), labelled so; other dtypes and the CPU without
    TF32 (bf16 and fp16 rows name their dtype)."""
    for name in dtypes:
        if name == 'fp32' and device == 'cuda':
            for setting in tf32:
                set_tf32(setting == 'on')
                yield f' fp32 TF32 {setting}', DTYPES[name]
            continue
        if device == 'cuda':
            set_tf32(False)
        yield ('' if name == 'fp32' else f' {name}'), DTYPES[name]


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory_in_heap() -> None:
    """Serve this process's allocations from glibc's heap and keep freed
    memory there, as a caching allocator would.

    With glibc's defaults every block above its mmap threshold (at most
    32 MiB, adapted at run time) is a fresh mmap whose page faults go to
    whichever formulation allocates it; on this project's VMs they were 40 %
    of a 64-channel 3x3 conv's forward, and came and went with the
    allocation history. Timings then measure the computation.

    Raises:
        RuntimeError: Without glibc's ``mallopt``.
    """
    libc = ctypes.CDLL(None)
    if not hasattr(libc, 'mallopt') or not (
            libc.mallopt(_M_MMAP_MAX, 0)
            and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)):
        raise RuntimeError('--allocator heap needs glibc\'s mallopt; use '
                           '--allocator system')


def time_once(run: Callable, clock: str) -> float:
    """Seconds of one ``run()``: by CUDA events with ``clock='cuda'`` (the
    GPU synchronised first), else by :data:`CLOCKS`."""
    if clock == 'cuda':
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        torch.cuda.synchronize()
        start.record()
        run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    now = CLOCKS[clock]
    start = now()
    run()
    return now() - start


def time_rounds(runs: Dict[str, Callable], repeats: int,
                clock: str = 'wall') -> Dict[str, List[float]]:
    """Seconds of each closure in each of ``repeats`` rounds, the closures
    interleaved within a round, after one warm-up run each (which also
    compiles)."""
    for run in runs.values():
        run()
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(time_once(run, clock))
    return samples


def median_ratio(rounds: Dict[str, List[float]], name: str,
                 reference: str) -> float:
    """Median over rounds of ``name``'s time over ``reference``'s in the same
    round: runs next to each other share the machine's state, which drifts
    between rounds on a shared machine."""
    return statistics.median(
        t / r for t, r in zip(rounds[name], rounds[reference]))


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def cuda_peak_memory(run: Callable) -> float:
    """Bytes of peak GPU memory of a training step ``run`` beyond what was
    allocated before it (inputs, parameters and, after the warm-up run,
    gradients): ``max_memory_allocated`` counts allocations, not the caching
    allocator's reserve, so other formulations in the process do not
    matter."""
    run()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    run()
    return torch.cuda.max_memory_allocated() - base


def peak_training_memory(name: str, shape: str, dtype: str,
                         compile_model: bool) -> float:
    """Bytes of peak CPU training memory beyond inputs, parameters and
    grads: the resident-set high-water mark of one step after a warm-up
    step, reset through ``/proc/self/clear_refs`` (Linux); run in a process
    whose malloc returns large blocks to the OS (see
    :func:`memory_in_subprocess`)."""
    module = build(name, shape)
    if compile_model:
        module = torch.compile(module, dynamic=False)
    run = step(module, make_input(shape, 'cpu'), True, DTYPES[dtype])
    run()  # warm up: libraries, compilation, gradient buffers
    gc.collect()
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')  # reset the high-water mark to the current RSS
    base = _status_kib('VmRSS')
    run()
    return (_status_kib('VmHWM') - base) * 1024


def memory_in_subprocess(name, shape, dtype, compile_model) -> float:
    """Fresh process per CPU measurement, with malloc returning every block
    over 64 KiB to the OS on free, so the peak is this step's own."""
    code = ('import json, sys; sys.path.insert(0, "tools/analysis"); '
            'import benchmark_layers as b; '
            f'print(json.dumps(b.peak_training_memory({name!r}, {shape!r}, '
            f'{dtype!r}, {compile_model!r})))')
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def macs(shape: str, layer: nn.Module) -> Dict[str, float]:
    """Multiply-accumulates of conv and layer per forward, and the limit of
    the layer's training cost as a ratio to the conv's; ``layer`` is the
    shape's PAFU (its selector's convs are counted) or ACDA."""
    if shape in PAFU_SHAPES:
        batch, cin, cout, size, num_kernels, k = PAFU_SHAPES[shape]
        pixels = batch * size * size
        conv = pixels * cout * cin * k * k
        # Stride 1: both selector convs run at the output's size.
        selector = pixels * sum(
            conv_layer.weight.numel()
            for conv_layer in layer.selector.modules()
            if isinstance(conv_layer, nn.Conv2d))
        # Training: forward 1 conv, straight-through gradient n convs,
        # dx and dW 1 conv each; a conv trains in 3.
        return dict(conv=conv, layer=conv + selector,
                    train_limit=(num_kernels + 2) / 3)
    batch, channels, size, k = ACDA_SHAPES[shape]
    pixels = batch * size * size
    conv = pixels * channels * channels * k * k
    num_bases, num_atoms = 6, 6
    scales = range(3, k + 1, 2)
    coeffs = num_atoms * num_bases * len(scales)
    generator = pixels * (channels * 64 + 64 * coeffs * 9)
    depthwise = pixels * channels * num_bases * sum(s * s for s in scales)
    contraction = pixels * channels * coeffs
    coefficient = pixels * channels * num_atoms * channels
    layer = generator + depthwise + contraction + coefficient
    return dict(conv=conv, layer=layer, train_limit=layer / conv)


def onnx_table(shapes: List[str], repeats: int, clock: str) -> List[str]:
    """A row per shape: the CPU inference time of its layer exported to
    ONNX (``pafu_acda_mm/layers/onnx_export.py``, dynamic batch and size)
    and run in onnxruntime, over the layer's PyTorch eval forward and over
    the conv exported alike; onnxruntime on as many threads as torch, the
    three timed in interleaved rounds."""
    import onnxruntime  # the deploy extra, needed with --onnx only

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    table = [
        '| shape | layer | onnxruntime vs PyTorch eval | onnxruntime vs conv '
        'in onnxruntime |', '|---|---|---|---|'
    ]
    print(*table, sep='\n')
    for shape in shapes:
        x = make_input(shape, 'cpu')
        layer = formulations(shape)[1]
        runs = {layer: step(build(layer, shape), x, False)}
        for name in ('conv', layer):
            exported = io.BytesIO()
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore',
                                        category=torch.jit.TracerWarning)
                onnx_export(build(name, shape).eval(), (x, ), exported,
                            opset_version=17, input_names=['input'],
                            dynamic_axes={'input': {0: 'batch', 2: 'height',
                                                    3: 'width'}})
            session = onnxruntime.InferenceSession(
                exported.getvalue(), options,
                providers=['CPUExecutionProvider'])
            runs[f'{name}_onnx'] = functools.partial(session.run, None,
                                                     {'input': x.numpy()})
        times = time_rounds(runs, repeats, clock)
        table.append(
            f'| {shape} | {layer} | '
            f'{median_ratio(times, f"{layer}_onnx", layer):.2f} | '
            f'{median_ratio(times, f"{layer}_onnx", "conv_onnx"):.2f} |')
        print(table[-1], flush=True)
    return table


def memory_ratio(memory: Dict[str, float], name: str, reference: str) -> str:
    """``name``'s peak memory over ``reference``'s, or ``-`` where
    ``memory`` is empty (not measured)."""
    return f'{memory[name] / memory[reference]:.2f}' if memory else '-'


def ratio_row(label: str, name: str, times: Dict[bool, Dict[str, List[float]]],
              memory: Dict[str, float], *extra: str) -> str:
    """A table row: ``label``, ``name``, its forward and training times over
    the conv's (``times[train]``, see :func:`median_ratio`), its peak
    training memory over the conv's, then ``extra`` cells."""
    cells = [
        label, name, f'{median_ratio(times[False], name, "conv"):.2f}',
        f'{median_ratio(times[True], name, "conv"):.2f}',
        memory_ratio(memory, name, 'conv'), *extra
    ]
    return '| ' + ' | '.join(cells) + ' |'


def cuda_peak_memories(runs: Dict[str, Callable], args) -> Dict[str, float]:
    """:func:`cuda_peak_memory` of each training run on CUDA; empty on the
    CPU or with ``--no-memory``."""
    if args.device != 'cuda' or args.no_memory:
        return {}
    return {name: cuda_peak_memory(run) for name, run in runs.items()}


CUDA_OPS = 'pafu_acda_mm/ops/selected_conv_cuda.py'


def load_baseline(source: str) -> Tuple[ModuleType, str]:
    """PAFU's CUDA ops module as of an older revision, and that revision.

    Args:
        source (str): A git revision of this checkout, or a folder holding
            that revision's ``selected_conv_cuda.py`` and a ``REVISION`` file
            naming it (``tools/gpu_check.sh --prepare-wheels`` makes one for
            machines without the git history).

    Returns:
        tuple: The module, loaded into ``pafu_acda_mm.ops`` beside today's
        (its relative imports are today's), and the revision's name.

    Raises:
        RuntimeError: If git cannot show the file at ``source``.
    """
    if os.path.isdir(source):
        with open(os.path.join(source, 'REVISION')) as revision_file:
            revision = revision_file.read().strip()
        path = os.path.join(source, os.path.basename(CUDA_OPS))
    else:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        shown = subprocess.run(
            ['git', '-C', repo, 'show', f'{source}:{CUDA_OPS}'],
            capture_output=True, text=True)
        named = subprocess.run(
            ['git', '-C', repo, 'rev-parse', '--short', source],
            capture_output=True, text=True)
        if shown.returncode or named.returncode:
            raise RuntimeError(f'--baseline {source}: git cannot show '
                               f'{CUDA_OPS} there: {shown.stderr.strip()}')
        revision = named.stdout.strip()
        # Triton reads a kernel's source from its file.
        path = os.path.join(tempfile.mkdtemp(), os.path.basename(CUDA_OPS))
        with open(path, 'w') as copy:
            copy.write(shown.stdout)
    name = f'pafu_acda_mm.ops._selected_conv_cuda_{revision}'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, revision


# Formulation: an ops module (indexed_conv2d, selected_conv2d_backward) and
# the module attributes set while it computes, e.g. a switch.
Formulation = Tuple[ModuleType, Dict[str, object]]


def pafu_implementations(
        device: str,
        baseline: Optional[str]) -> Dict[str, Union[Formulation, str]]:
    """The ways to compute PAFU's selected convolution on ``device``, by
    row name: a :data:`Formulation`, or why it is left out (a string).
    Today's Triton kernels come once per value of their
    ``SELECTION_GRADIENT`` switch."""
    found: Dict[str, Union[Formulation, str]] = {}
    if device == 'cpu':
        found['cpu'] = (selected_conv.implementation(torch.device('cpu')), {})
    # Loaded even where they cannot run: a bad --baseline fails at once.
    if baseline is not None:
        kernels, revision = load_baseline(baseline)
        found[f'triton {revision}'] = (kernels, {})
    kernels = importlib.import_module('pafu_acda_mm.ops.selected_conv_cuda')
    for value in SELECTION_GRADIENTS:
        found[f'triton, {value} selection grad'] = (
            kernels, dict(SELECTION_GRADIENT=value))
    if device != 'cuda' and os.environ.get('TRITON_INTERPRET') != '1':
        for name in found:
            if name.startswith('triton'):
                found[name] = ('no GPU here, and TRITON_INTERPRET=1 (the '
                               'interpreter) was not set')
    found['torch'] = (importlib.import_module(
        'pafu_acda_mm.ops.selected_conv_torch'), {})
    return found


# The values of selected_conv_cuda.SELECTION_GRADIENT: the selection
# gradient by cuDNN convolutions, or by the fused Triton kernel.
SELECTION_GRADIENTS = ('cudnn', 'triton')


@contextlib.contextmanager
def computing_with(formulation: Formulation) -> Iterator[None]:
    """The ops compute every device's tensors with ``formulation``'s
    module and settings meanwhile (as tests/ops/conftest.py routes them)."""
    implementation, settings = formulation
    original = selected_conv.implementation
    previous = {name: getattr(implementation, name) for name in settings}
    selected_conv.implementation = lambda device: implementation
    for name, value in settings.items():
        setattr(implementation, name, value)
    try:
        yield
    finally:
        selected_conv.implementation = original
        for name, value in previous.items():
            setattr(implementation, name, value)


def routed(run: Callable, formulation: Formulation) -> Callable:
    """``run`` with the ops computing by ``formulation``."""

    def run_routed():
        with computing_with(formulation):
            run()

    return run_routed


def formulations_table(args) -> List[str]:
    """A row per PAFU shape of ``args.shapes``, precision and way to compute
    the selected convolution (:func:`pafu_implementations`, and the naive
    ``n``-conv ``pafu_plain``): its forward and training step over the
    conv's, all timed in the same interleaved rounds, and on CUDA the peak
    training memory over the conv's."""
    implementations = pafu_implementations(args.device, args.baseline)
    table = [
        '| shape | formulation | fwd vs conv | train vs conv | '
        'train mem vs conv |', '|---|---|---|---|---|'
    ]
    print(*table, sep='\n')
    for name, reason in implementations.items():
        if isinstance(reason, str):
            print(f'{name}: left out, {reason}', flush=True)
    implementations = {name: formulation
                       for name, formulation in implementations.items()
                       if not isinstance(formulation, str)}
    for shape in (s for s in args.shapes if s in PAFU_SHAPES):
        x = make_input(shape, args.device)
        conv = build('conv', shape).to(args.device)
        pafu = build('pafu', shape).to(args.device)
        for suffix, dtype in precisions(args.dtypes, args.device, args.tf32):
            times = {}
            for train in (False, True):
                runs = {'conv': step(conv, x, train, dtype)}
                for name, formulation in implementations.items():
                    runs[name] = routed(step(pafu, x, train, dtype),
                                        formulation)
                runs['pafu_plain'] = step(PlainPAFU(pafu), x, train, dtype)
                times[train] = time_rounds(runs, args.repeats, args.clock)
            memory = cuda_peak_memories(runs, args)
            for name in runs:
                if name != 'conv':
                    table.append(ratio_row(shape + suffix, name, times,
                                           memory))
                    print(table[-1], flush=True)
    return table


# --tables whole-step: name in whole_step_models, and the rows' names.
WHOLE_STEP_NETS = {
    'espcn': ('PAFU-ESPCN x4', 'ESPCN x4'),
    'pspnet': ('PSPNet-R50-D8 + PAFU-PPM', 'PSPNet-R50-D8'),
}


def whole_step_table(args) -> List[str]:
    """A row per net and precision: one training iteration of the PAFU net
    (whole_step_models.py) in milliseconds and over its plain twin's,
    timed in the same interleaved rounds; on CUDA also the peak memory over
    the twin's."""
    table = [
        '| net | batch | iteration (ms) | vs plain twin | '
        'mem vs plain twin |', '|---|---|---|---|---|'
    ]
    print(*table, sep='\n')
    batches = (whole_step_models.TINY_BATCHES
               if args.tiny else whole_step_models.BATCHES)
    for net, (pafu_name, plain_name) in WHOLE_STEP_NETS.items():
        batch, size = batches[net]
        for suffix, dtype in precisions(args.dtypes, args.device, args.tf32):
            runs = {
                name: whole_step_models.TrainingIteration(
                    net, pafu, args.device, dtype, args.tiny)
                for name, pafu in ((pafu_name, True), (plain_name, False))
            }
            times = time_rounds(runs, args.repeats, args.clock)
            memory = cuda_peak_memories(runs, args)
            for name in runs:
                table.append(
                    f'| {name}{suffix} | B{batch} {size}x{size} | '
                    f'{statistics.median(times[name]) * 1e3:.1f} | '
                    f'{median_ratio(times, name, plain_name):.2f} | '
                    f'{memory_ratio(memory, name, plain_name)} |')
                print(table[-1], flush=True)
            del runs
    return table


def layers_table(args) -> List[str]:
    """A row per shape of ``args.shapes``, precision and formulation of
    the layer (:func:`formulations`, and the layer compiled with
    ``args.compile``): forward, training step and peak training memory over
    the conv's, and the MAC ratios (:func:`macs`)."""
    table = [
        '| shape | layer | fwd vs conv | train vs conv | train mem vs conv | '
        'MACs vs conv | train limit |', '|---|---|---|---|---|---|---|'
    ]
    print(*table, sep='\n')
    for shape in args.shapes:
        x = make_input(shape, args.device)
        names = formulations(shape)
        modules = {n: build(n, shape).to(args.device) for n in names}
        layer = names[1]
        if args.compile:
            # Static shapes: each shape compiles on its own.
            modules[layer + '_compiled'] = torch.compile(
                build(layer, shape).to(args.device), dynamic=False)
        count = macs(shape, modules[layer])
        for suffix, dtype in precisions(args.dtypes, args.device, args.tf32):
            dtype_name = next(name for name, value in DTYPES.items()
                              if value == dtype)
            times = {}
            for train in (False, True):
                runs = {
                    n: step(m, x, train, dtype)
                    for n, m in modules.items()
                }
                times[train] = time_rounds(runs, args.repeats, args.clock)
            memory = {}
            if not args.no_memory:
                for name, run in runs.items():
                    memory[name] = (cuda_peak_memory(run)
                                    if args.device == 'cuda' else
                                    memory_in_subprocess(
                                        name.replace('_compiled', ''), shape,
                                        dtype_name,
                                        name.endswith('_compiled')))
            for name in modules:
                if name == 'conv':
                    continue
                # A deployed PAFU is a conv.
                layer_macs, train_limit = (
                    (1, 1) if name == 'pafu_deployed' else
                    (count['layer'] / count['conv'], count['train_limit']))
                table.append(
                    ratio_row(shape + suffix, name, times, memory,
                              f'{layer_macs:.2f}', f'{train_limit:.2f}'))
                print(table[-1], flush=True)
    return table


# --tables: each table's function of the parsed arguments.
TABLES = {
    'layers': layers_table,
    'whole-step': whole_step_table,
    'formulations': formulations_table,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shapes', nargs='+',
                        default=[
                            shape for shape in [*PAFU_SHAPES, *ACDA_SHAPES]
                            if shape != 'p8'
                        ],
                        choices=list(PAFU_SHAPES) + list(ACDA_SHAPES),
                        help='default: all but p8')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--dtypes', nargs='+', default=['fp32'],
                        choices=list(DTYPES),
                        help='fp32, or autocast to bf16/fp16 (default: fp32)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--compile', action='store_true',
                        help='also time the layers under torch.compile')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the (slow) per-process memory peaks')
    parser.add_argument('--onnx', action='store_true',
                        help='also time the layers exported to ONNX in '
                        'onnxruntime (CPU)')
    parser.add_argument(
        '--tables', nargs='+', default=['layers'], choices=list(TABLES),
        help='layers (default): each layer against the conv; whole-step: '
        'PAFU-ESPCN and PSPNet with PAFU-PPM training iterations against '
        'their plain twins; formulations: PAFU\'s selected convolution '
        'computed each way')
    parser.add_argument(
        '--baseline', metavar='REV_OR_DIR',
        help='formulations: also time the Triton kernels of this git '
        'revision, or of a folder holding its selected_conv_cuda.py and a '
        'REVISION file')
    parser.add_argument('--tf32', nargs='+', default=['off'],
                        choices=['off', 'on'],
                        help='CUDA fp32 rows with TF32 off (default), on, '
                        'or both')
    parser.add_argument('--tiny', action='store_true',
                        help='whole-step: nets and batches a few pixels '
                        'and channels wide (checks the code paths)')
    add_timing_arguments(parser)
    add_markdown_argument(parser)
    args = parser.parse_args()
    setup_timing(parser, args)
    if args.onnx and args.device != 'cpu':
        parser.error('--onnx times onnxruntime on the CPU: use it with '
                     '--device cpu')
    header = markdown_header(args.device)

    table = []
    for name in args.tables:
        table += ['', *TABLES[name](args)] if table else TABLES[name](args)
    if args.onnx:
        table += ['', *onnx_table(args.shapes, args.repeats, args.clock)]
    write_markdown(args.markdown, header, table)


if __name__ == '__main__':
    main()
