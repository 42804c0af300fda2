import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FALLBACK_WARNING = "PAFU's fused CPU forward (a C++ op) is unavailable"


def test_wheel_ships_every_file_the_package_reads(tmp_path):
    # A non-editable install must carry the C++ source the fused PAFU
    # forward compiles at first use, not only the Python modules. (The op's
    # build at install time is tests/test_install_journey.py's.)
    source = tmp_path / 'source'
    source.mkdir()
    for name in ('setup.py', 'pyproject.toml', 'README.md', 'LICENSE'):
        shutil.copy(REPO / name, source)
    shutil.copytree(
        REPO / 'pafu_acda_mm',
        source / 'pafu_acda_mm',
        ignore=shutil.ignore_patterns('__pycache__'))
    result = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '--wheel-dir',
        str(tmp_path / 'dist'),
        str(source)
    ],
                            capture_output=True,
                            text=True,
                            env=dict(os.environ, PAFU_ACDA_MM_WITH_OPS='0'))
    assert result.returncode == 0, result.stderr[-3000:]
    wheel, = (tmp_path / 'dist').glob('pafu_acda_mm-*.whl')
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package_files = {
        path.relative_to(source).as_posix()
        for path in (source / 'pafu_acda_mm').rglob('*') if path.is_file()
    }
    assert package_files - shipped == set()


def test_build_switch_with_another_value_is_refused():
    result = subprocess.run([sys.executable, 'setup.py', '--name'],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            env=dict(os.environ, PAFU_ACDA_MM_WITH_OPS='yes'))
    assert result.returncode != 0
    assert "PAFU_ACDA_MM_WITH_OPS='yes': expected 0" in result.stderr


def test_pafu_without_the_op_or_its_build_tools_warns_once_and_trains(
        tmp_path):
    """No op built at install time, no compiler or ninja on PATH and an
    empty extension cache: PAFU trains on its pure-torch CPU path."""
    code = ('import torch, pafu_acda_mm\n'
            'from pafu_acda_mm.ops.window_products import '
            'can_fuse_window_products\n'
            "pafu = pafu_acda_mm.PAFU(3, 4, 3, padding=1, num_kernels=2)\n"
            'x = torch.rand(2, 3, 8, 8)\n'
            'for _ in range(2):\n'
            '    pafu(x).sum().backward()\n'
            'assert not can_fuse_window_products(x, 27, 1)\n')
    empty_bin = tmp_path / 'bin'
    empty_bin.mkdir()
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ,
                 PATH=str(empty_bin),
                 TORCH_EXTENSIONS_DIR=str(tmp_path / 'extensions')))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(FALLBACK_WARNING) == 1, result.stderr
    assert ('needs ninja and a C++ compiler (c++), not found on PATH'
            in result.stderr)
