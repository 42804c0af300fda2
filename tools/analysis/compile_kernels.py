"""Compile PAFU's Triton kernels ahead of time for NVIDIA GPUs, without one.

Every kernel launch the CUDA ops make, in every dtype and every row of
``selected_conv_cuda.TILE_CONFIGS``, is compiled for each architecture
asked, as Triton's JIT would compile it at run time: the launches are
recorded from the ops themselves on CPU tensors (kernels swapped for
recorders), so arguments, constexprs, alignment specialisation and the
tile configuration are the dispatcher's own. Per compile it prints the
registers, spill bytes and static shared memory that triton's bundled
``ptxas -v`` reports, the dynamic shared memory Triton allocates, and
whether the inner loop is software-pipelined (asynchronous copies into
shared memory in the PTX, which the pipeliner's stages issue).

Works with triton 2.1 (torch 2.1) and triton 3 (torch >= 2.4); no CUDA
driver is needed. Nothing is cached between runs.

Usage:
    python tools/analysis/compile_kernels.py [--arch 80 90] [--check]

``--check`` exits non-zero on what :func:`problems` finds: a compile error,
shared memory above the architecture's limit, spills in a half-precision
configuration, a half-precision loop not pipelined (triton 3, sm_80+).
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, Iterator, List, NamedTuple, Optional

import torch
import triton

from pafu_acda_mm.ops import selected_conv_cuda as kernels
from pafu_acda_mm.ops.triton_compat import FP64_PRODUCTS, TRITON_VERSION

#: Dynamic shared memory one block may use, in bytes, per compute capability.
#: From sm_80 (bf16 products need it): on sm_70 Triton has no tensor-core
#: products (triton 2.1 aborts compiling half-precision ones, triton 3
#: computes them with FMAs, which spill).
SHARED_MEMORY_LIMITS = {
    80: 166912,
    86: 101376,
    89: 101376,
    90: 232448,
}

#: Architectures every configuration is compiled for in CI; the others get
#: the widest configuration of each precision (the most shared memory).
MAIN_ARCHS = (80, 90)
OTHER_ARCHS = (86, 89)
#: The precisions compiled for :data:`OTHER_ARCHS`: not fp64, whose products
#: triton 2.1 compiles only with the fp64 tensor cores of sm_80 and sm_90
#: (triton 3 compiles them everywhere).
OTHER_ARCH_PRECISIONS = ('half', 'tf32', 'ieee')

#: Kernels launched without the table's tiles (the pixel sort, the sum of
#: dW's partials): compiled once per dtype, no product loop to pipeline.
TILE_FREE_KERNELS = ('_count_pixels_kernel', '_place_groups_kernel',
                     '_scatter_pixels_kernel', '_sum_weight_grad_kernel')

#: The dtypes each precision of the table is compiled in.
DTYPES = {
    'half': (torch.float16, torch.bfloat16),
    'tf32': (torch.float32, ),
    'ieee': (torch.float32, ),
    'fp64': (torch.float64, ),
}


class Launch(NamedTuple):
    """One kernel launch as the ops make it: the kernel, its positional
    arguments and its launch options (``num_warps``, ``num_stages``)."""
    kernel: triton.runtime.jit.JITFunction
    args: tuple
    options: Dict[str, int]


class Report(NamedTuple):
    """What one compile of one launch gives."""
    kernel: str
    dtype: str
    precision: str
    config: str
    arch: int
    registers: Optional[int] = None
    spill_bytes: Optional[int] = None
    shared_bytes: Optional[int] = None
    pipelined: Optional[bool] = None
    error: Optional[str] = None


class _Recorder:
    """Stands for a kernel: ``kernel[grid](*args, **options)`` records the
    launch instead of running it."""

    def __init__(self, kernel, launches: List[Launch]):
        self.kernel, self.launches = kernel, launches

    def __getitem__(self, grid):
        return lambda *args, **options: self.launches.append(
            Launch(self.kernel, args, options))


@contextlib.contextmanager
def _recording(launches: List[Launch]) -> Iterator[None]:
    """Every ``*_kernel`` of selected_conv_cuda records into ``launches``."""
    names = [name for name in dir(kernels) if name.endswith('_kernel')]
    originals = {name: getattr(kernels, name) for name in names}
    try:
        for name, kernel in originals.items():
            setattr(kernels, name, _Recorder(kernel, launches))
        yield
    finally:
        for name, kernel in originals.items():
            setattr(kernels, name, kernel)


def record_launches(dtype: torch.dtype, channels: int,
                    allow_tf32: bool) -> List[Launch]:
    """The launches of one forward and one full backward of a 3x3 selected
    conv over ``channels`` input and output channels (4 kernels, bias), on
    CPU tensors of ``dtype`` with ``torch.backends.cudnn.allow_tf32`` set to
    ``allow_tf32`` and the selection gradient by the Triton kernel: distinct
    kernels, in launch order."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, 9, 11, generator=generator).to(dtype)
    weight = torch.randn(4 * channels, channels, 3, 3,
                         generator=generator).to(dtype)
    bias = torch.randn(4 * channels, generator=generator).to(dtype)
    index = torch.randint(4, (1, 9, 11), generator=generator)
    conv_args = ((1, 1), (1, 1), (1, 1), 1)
    launches = []
    saved = torch.backends.cudnn.allow_tf32, kernels.SELECTION_GRADIENT
    torch.backends.cudnn.allow_tf32 = allow_tf32
    kernels.SELECTION_GRADIENT = 'triton'
    try:
        with _recording(launches):
            out = kernels.indexed_conv2d(x, weight, bias, index, 4,
                                         *conv_args)
            kernels.selected_conv2d_backward(torch.ones_like(out), x, weight,
                                             bias, index, 4, *conv_args,
                                             (True, True, True, True))
    finally:
        torch.backends.cudnn.allow_tf32, kernels.SELECTION_GRADIENT = saved
    distinct = {}
    for launch in launches:
        distinct.setdefault(launch.kernel.__name__, launch)
    return list(distinct.values())


def _compile_triton3(launch: Launch, arch: int):
    """``(asm, shared bytes)`` of ``launch`` compiled by triton 3 for
    ``arch``, specialised by the JIT's own binder."""
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia.compiler import CUDABackend
    from triton.compiler import ASTSource
    from triton.runtime.jit import create_function_from_signature

    kernel = launch.kernel
    backend = CUDABackend(GPUTarget('cuda', arch, 32))
    binder = create_function_from_signature(kernel.signature, kernel.params,
                                            backend)
    bound, specialization, options = binder(*launch.args, **launch.options)
    options, signature, constexprs, attrs = kernel._pack_args(
        backend, launch.options, bound, specialization, options)
    compiled = triton.compile(ASTSource(kernel, signature, constexprs, attrs),
                              target=backend.target,
                              options=options.__dict__)
    return compiled.asm, compiled.metadata.shared


def _compile_triton2(launch: Launch, arch: int):
    """``(asm, shared bytes)`` of ``launch`` compiled by triton 2.1 for
    ``arch``, specialised as its JIT does; its host launcher, which needs
    libcuda, is neither built nor loaded."""
    from triton.compiler import compiler

    kernel = launch.kernel
    args = launch.args
    config = kernel._get_config(*args)
    constants = {index: args[index] for index in kernel.constexprs}
    constants.update({index: 1 for index in config.equal_to_1})
    signature = {
        index: kernel._type_of(kernel._key_of(arg))
        for index, arg in enumerate(args) if index not in kernel.constexprs
    }
    launcher = compiler.make_stub, compiler.CompiledKernel
    compiler.make_stub = lambda *stub_args: None
    compiler.CompiledKernel = lambda fn, stub, metadata, asm: (
        asm, metadata['shared'])
    try:
        return triton.compile(kernel, signature=signature,
                              constants=constants, configs=[config], cc=arch,
                              **launch.options)
    finally:
        compiler.make_stub, compiler.CompiledKernel = launcher


def _ptxas() -> str:
    """Triton's bundled ptxas."""
    root = os.path.dirname(triton.__file__)
    for relative in ('backends/nvidia/bin/ptxas',
                     'third_party/cuda/bin/ptxas'):
        path = os.path.join(root, relative)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f'no ptxas under {root}')


def ptxas_usage(ptx: str, arch: int) -> Dict[str, int]:
    """Registers, spill bytes (stores and loads) and static shared memory
    that ``ptxas -v`` reports for ``ptx`` on ``arch``."""
    target = f'sm_{arch}a' if arch >= 90 else f'sm_{arch}'
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'kernel.ptx')
        with open(path, 'w') as file:
            file.write(ptx)
        result = subprocess.run(
            [_ptxas(), '-v', f'-arch={target}', path, '-o', os.devnull],
            capture_output=True, text=True, check=True)
    text = result.stdout + result.stderr

    def number(pattern: str) -> int:
        return sum(int(value) for value in re.findall(pattern, text))

    return dict(registers=number(r'Used (\d+) registers'),
                spill_bytes=number(r'(\d+) bytes spill stores') +
                number(r'(\d+) bytes spill loads'),
                static_shared=number(r'(\d+) bytes smem'))


def is_pipelined(asm: Dict[str, str]) -> bool:
    """Whether loads are issued asynchronously ahead of the products (what
    Triton's software pipelining emits: ``cp.async`` or TMA copies)."""
    return bool(re.search(r'\bcp\.async\b', asm['ptx']))


def compile_launch(launch: Launch, arch: int, dtype: torch.dtype,
                   precision: str, config) -> Report:
    """Compile ``launch`` for ``arch`` and report on it."""
    name = launch.kernel.__name__
    describe = dict(kernel=name, dtype=str(dtype).replace('torch.', ''),
                    precision=precision,
                    config='/'.join(str(value) for value in config),
                    arch=arch)
    compile_one = (_compile_triton3
                   if TRITON_VERSION >= (3, 0) else _compile_triton2)
    try:
        asm, shared = compile_one(launch, arch)
        usage = ptxas_usage(asm['ptx'], arch)
    except Exception as error:  # reported, and failed by --check
        message = f'{type(error).__name__}: {error}'.splitlines()
        return Report(**describe, error=' '.join(message)[:300])
    return Report(**describe, registers=usage['registers'],
                  spill_bytes=usage['spill_bytes'],
                  shared_bytes=shared + usage['static_shared'],
                  pipelined=is_pipelined(asm))


def compile_all(archs=MAIN_ARCHS,
                precisions: Optional[List[str]] = None,
                widest_only: bool = False) -> List[Report]:
    """Every kernel in every dtype and every ``TILE_CONFIGS`` row of
    ``precisions`` (all by default; with ``widest_only``, each precision's
    widest row; fp64 where this Triton compiles its products), compiled
    for each of ``archs``."""
    widest = {}
    for precision, width in kernels.TILE_CONFIGS:
        widest[precision] = max(width, widest.get(precision, width))
    reports, compiled = [], set()
    with tempfile.TemporaryDirectory() as cache, _environment(
            TRITON_CACHE_DIR=cache):
        for (precision, width), config in sorted(kernels.TILE_CONFIGS.items()):
            if (precisions is not None and precision not in precisions
                    or widest_only and width != widest[precision]
                    or precision == 'fp64' and not FP64_PRODUCTS):
                continue  # fp64 without them: the ops' plain-torch path
            for dtype in DTYPES[precision]:
                allow_tf32 = precision == 'tf32'
                for launch in record_launches(dtype, width, allow_tf32):
                    name = launch.kernel.__name__
                    if name in TILE_FREE_KERNELS:
                        if (name, dtype) in compiled:
                            continue
                        compiled.add((name, dtype))
                    else:  # The shape picked this row.
                        assert launch.options == dict(
                            num_warps=config.num_warps,
                            num_stages=config.num_stages), (launch, config)
                    for arch in archs:
                        reports.append(
                            compile_launch(launch, arch, dtype, precision,
                                           config))
    return reports


@contextlib.contextmanager
def _environment(**variables: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def problems(report: Report) -> List[str]:
    """What fails ``report``: a compile error, shared memory over the
    architecture's limit, spills in half precision, and with triton 3 a
    half-precision product loop not pipelined from sm_80 on (triton 2.1
    pipelines only some of them; sm_70 has no asynchronous copies)."""
    if report.error:
        return [f'compile error: {report.error}']
    found = []
    if report.shared_bytes > SHARED_MEMORY_LIMITS[report.arch]:
        found.append(f'{report.shared_bytes} bytes of shared memory, above '
                     f"sm_{report.arch}'s {SHARED_MEMORY_LIMITS[report.arch]}")
    if report.precision == 'half' and report.spill_bytes:
        found.append(f'{report.spill_bytes} bytes of spills')
    if (report.precision == 'half' and not report.pipelined
            and report.kernel not in TILE_FREE_KERNELS and report.arch >= 80
            and TRITON_VERSION >= (3, 0)):
        found.append('inner loop not pipelined')
    return found


def format_table(reports: List[Report]) -> str:
    """A markdown table of ``reports``, one row per compile."""
    lines = [
        '| kernel | dtype | precision | M/N/K/warps/stages | arch | '
        'registers | spill bytes | shared bytes | pipelined |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for report in reports:
        if report.error:
            cells = ['error: ' + report.error, '', '', '']
        else:
            cells = [
                report.registers, report.spill_bytes, report.shared_bytes,
                'yes' if report.pipelined else 'no'
            ]
        lines.append('| ' + ' | '.join(
            str(cell) for cell in (report.kernel, report.dtype,
                                   report.precision, report.config,
                                   f'sm_{report.arch}', *cells)) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', type=int, nargs='+',
                        default=sorted(SHARED_MEMORY_LIMITS),
                        help='compute capabilities (default: all known)')
    parser.add_argument('--precision', nargs='+', choices=sorted(DTYPES),
                        help='table precisions to compile (default: all)')
    parser.add_argument('--widest-only', action='store_true',
                        help="each precision's widest configuration only")
    parser.add_argument('--check', action='store_true',
                        help='exit 1 on what the CI test fails on (see '
                        'problems())')
    args = parser.parse_args(argv)
    reports = compile_all(args.arch, args.precision, args.widest_only)
    print(f'triton {triton.__version__}, torch {torch.__version__}')
    print(format_table(reports))
    failures = [(report, problem) for report in reports
                for problem in problems(report)]
    for report, problem in failures:
        print(f'FAIL {report.kernel} {report.dtype} {report.config} '
              f'sm_{report.arch}: {problem}')
    return 1 if args.check and failures else 0


if __name__ == '__main__':
    sys.exit(main())
