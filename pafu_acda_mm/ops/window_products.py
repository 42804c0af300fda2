"""PAFU's forward products fused in C++ on the CPU (csrc/window_products.cpp).

For every output pixel, ``W[index[p]] @ window(p) + b[index[p]]``: pixels
sorted by kernel, each thread gathers blocks of :data:`BLOCK_PIXELS` windows
of one kernel into its own cache-sized buffer, multiplies them by BLAS and
writes the results in pixel order: no window matrix in memory, no sort of
the outputs. Long windows run faster as one multi-threaded product over many
windows, hence :func:`can_fuse_window_products` up to :data:`MAX_WINDOW`
elements (measurements: docs/benchmarks.md).

The op is the module ``pafu_acda_mm._window_products`` where setup.py built
it at install time; else it compiles at first use (~40 s, needs ninja and a
C++ compiler) into torch's extension cache (``TORCH_EXTENSIONS_DIR``, default
``~/.cache/torch_extensions``), recompiling when its source changes. Where
neither works, :func:`can_fuse_window_products` is False, so that PAFU runs
its pure-torch CPU path, and one warning says what is missing.
"""
import functools
import importlib
import os
import shutil
import subprocess
import warnings
from types import ModuleType
from typing import List, Optional

import torch

# Windows gathered at once per thread: at 64 channels, 3x3, 288 KiB of fp32,
# which fits a core's L2 cache.
BLOCK_PIXELS = 128
# Longest window (k * k * C_in elements) that runs fused (see above).
MAX_WINDOW = 2048
_SOURCE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), 'csrc', 'window_products.cpp')
# The op built by setup.py at install time (pip install --no-build-isolation).
_PREBUILT = 'pafu_acda_mm._window_products'


def _missing_build_tools() -> List[str]:
    """What compiling the op at first use needs and ``PATH`` lacks."""
    from torch.utils.cpp_extension import is_ninja_available

    compiler = os.environ.get('CXX', 'c++')
    missing = [] if is_ninja_available() else ['ninja']
    if shutil.which(compiler) is None:
        missing.append(f'a C++ compiler ({compiler})')
    return missing


@functools.cache
def _extension() -> Optional[ModuleType]:
    """The op's module: built at install time, else compiled now; None, with
    one warning, where neither works."""
    try:
        return importlib.import_module(_PREBUILT)
    except ImportError as error:
        # Not built, or built against another torch (undefined symbols).
        prebuilt = ('it was not built at install time'
                    if isinstance(error, ModuleNotFoundError) else
                    f'the one built at install time does not load ({error})')
    missing = _missing_build_tools()
    if missing:
        reason = (f'compiling it needs {" and ".join(missing)}, not found '
                  'on PATH')
    else:
        from torch.utils.cpp_extension import load
        try:
            # at::parallel_for is OpenMP in torch's CPU builds.
            return load('pafu_acda_mm_window_products', [_SOURCE],
                        extra_cflags=['-O3', '-fopenmp'])
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            reason = f'compiling it failed: {str(error).strip()[-300:]}'
    warnings.warn(
        f"PAFU's fused CPU forward (a C++ op) is unavailable: {prebuilt}, "
        f'and {reason}. PAFU runs its pure-torch CPU path, which is '
        'slower. For the fast path, reinstall with a C++ '
        'compiler present: pip install --no-build-isolation <pafu_acda_mm '
        'source>, which builds the op at install time; or put ninja (pip '
        'install ninja) and a C++ compiler on PATH, and the op compiles at '
        'first use.',
        stacklevel=2)
    return None


def can_fuse_window_products(x: torch.Tensor, window: int, groups: int) -> bool:
    """Whether :func:`window_products` computes the forward of a selected
    conv of ``x`` with windows of ``window`` elements: fp32/fp64 CPU
    tensors, one group, ``window <= MAX_WINDOW``, and the op available
    (built at install time or compiled now; the first call may compile it)."""
    return (x.device.type == 'cpu'
            and x.dtype in (torch.float32, torch.float64) and groups == 1
            and window <= MAX_WINDOW and _extension() is not None)


def window_products(rows: torch.Tensor, base: torch.Tensor,
                    taps: torch.Tensor, index: torch.Tensor,
                    weight: torch.Tensor,
                    bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``out[p] = weight[index[p]] @ window(p) + bias[index[p]]``, where
    ``window(p)`` concatenates ``rows[base[p] + taps[t]]`` over taps ``t``.

    Args:
        rows (Tensor): ``(R, C)``, contiguous: the padded channels-last
            input's pixels.
        base (Tensor): int64 ``(P,)``, the first row of each output pixel's
            window.
        taps (Tensor): int64 ``(T,)``, each tap's row offset from the first.
        index (Tensor): int64 ``(P,)`` in ``[0, n)``, each pixel's kernel.
        weight (Tensor): ``(n, C_out, T * C)``, tap-major, channel-minor.
        bias (Tensor, optional): ``(n, C_out)``.

    Returns:
        Tensor: ``(P, C_out)``, row ``p`` the output of pixel ``p``.

    Raises:
        RuntimeError: Where :func:`can_fuse_window_products` is False for
            want of the op.
    """
    extension = _extension()
    if extension is None:
        raise RuntimeError('the C++ op is unavailable (see the warning '
                           'above); check can_fuse_window_products first')
    return extension.window_products(
        rows, base.contiguous(), taps.contiguous(), index.contiguous(),
        weight.contiguous(), None if bias is None else bias.contiguous(),
        BLOCK_PIXELS)
