"""PAFU's Triton kernels compile ahead of time for NVIDIA GPUs, without one
(tools/analysis/compile_kernels.py), with this environment's Triton: every
kernel in every dtype and every tile configuration the dispatcher can
choose for sm_80 and sm_90, the widest of each precision but fp64 for
sm_86 and sm_89 (sm_70 has no tensor-core products in Triton). Marked ``aot_compile``, which both torch environments run."""
import importlib
import sys

import pytest
from config_e2e import REPO

pytestmark = pytest.mark.aot_compile


@pytest.fixture(scope='module')
def compile_kernels():
    pytest.importorskip('triton')
    sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
    try:
        return importlib.import_module('compile_kernels')
    finally:
        sys.path.pop(0)


def _assert_compiled(compile_kernels, reports) -> None:
    print(compile_kernels.format_table(reports))
    failures = [(report.kernel, report.dtype, report.config, report.arch,
                 problem) for report in reports
                for problem in compile_kernels.problems(report)]
    assert not failures, failures


def test_every_configuration_compiles_for_sm80_and_sm90(compile_kernels):
    """No compile error, shared memory within each architecture's limit, no
    spills in half precision; the half-precision inner loops pipelined."""
    reports = compile_kernels.compile_all(compile_kernels.MAIN_ARCHS)
    kernels = {report.kernel for report in reports}
    assert kernels == {
        '_count_pixels_kernel', '_place_groups_kernel',
        '_scatter_pixels_kernel', '_forward_kernel', '_input_grad_kernel',
        '_weight_grad_kernel', '_sum_weight_grad_kernel',
        '_selection_grad_kernel'
    }
    _assert_compiled(compile_kernels, reports)


def test_widest_configurations_compile_for_the_other_archs(compile_kernels):
    reports = compile_kernels.compile_all(
        compile_kernels.OTHER_ARCHS, compile_kernels.OTHER_ARCH_PRECISIONS,
        widest_only=True)
    _assert_compiled(compile_kernels, reports)
