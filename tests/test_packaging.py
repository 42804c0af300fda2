import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_file_the_package_reads(tmp_path):
    # A non-editable install must carry the C++ source the fused PAFU
    # forward compiles at first use, not only the Python modules.
    source = tmp_path / 'source'
    source.mkdir()
    for name in ('setup.py', 'README.md'):
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
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    wheel, = (tmp_path / 'dist').glob('pafu_acda_mm-*.whl')
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package_files = {
        path.relative_to(source).as_posix()
        for path in (source / 'pafu_acda_mm').rglob('*') if path.is_file()
    }
    assert package_files - shipped == set()
