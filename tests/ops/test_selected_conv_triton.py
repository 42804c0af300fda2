import os
import subprocess
import sys

import pytest
import torch

CHECKS = [
    os.path.join(os.path.dirname(__file__), name)
    for name in ('selected_conv_triton_checks.py',
                 'selected_conv_launch_checks.py')
]


@pytest.mark.triton
def test_triton_kernels_in_a_process_of_their_own():
    """selected_conv_triton_checks.py and selected_conv_launch_checks.py,
    in a fresh process: without a GPU the kernels run in Triton's
    interpreter, which ``TRITON_INTERPRET=1`` selects only if set before
    anything imports Triton (torch.compile does)."""
    env = dict(os.environ)
    if not torch.cuda.is_available():
        env['TRITON_INTERPRET'] = '1'
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', *CHECKS, '-q', '-p',
         'no:cacheprovider', '--durations=5'],
        env=env, capture_output=True, text=True)
    output = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    print(output)
