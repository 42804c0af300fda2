"""Packaging for pafu_acda_mm.

Ranges here say what the plugin works with; requirements/lock.txt pins the exact
resolved set that tools/setup_env.sh installs.

PAFU's fused CPU forward (``pafu_acda_mm/csrc/window_products.cpp``) builds
here, as mmcv builds its ops, when torch is importable at build time (``pip
install --no-build-isolation``; an isolated build has no torch).
``PAFU_ACDA_MM_WITH_OPS``: unset builds it where a C++ compiler works and goes
on without it where none does, ``1`` fails without it, ``0`` skips it. Editable
installs never build it. Without it the op compiles at first use (ninja, a
requirement below, and a C++ compiler), or PAFU runs its pure-torch CPU path
(``pafu_acda_mm/ops/window_products.py``).
"""
import os
import subprocess
import sys

from setuptools import find_packages, setup
from setuptools.errors import BaseError, CCompilerError

OPS_SWITCH = 'PAFU_ACDA_MM_WITH_OPS'
WITH_OPS = os.environ.get(OPS_SWITCH, '')
if WITH_OPS not in ('', '0', '1'):
    sys.exit(f'{OPS_SWITCH}={WITH_OPS!r}: expected 0 (skip the C++ op), '
             '1 (build it or fail) or unset (build it where a compiler works)')

CODEBASE_REQUIRES = {
    # mmseg.utils.tokenizer imports ftfy and regex without declaring them.
    'mmseg': ['mmsegmentation==1.2.2', 'ftfy', 'regex'],
    'mmpretrain': ['mmpretrain==1.2.0'],
    # mmagic 1.2.0 imports APIs that newer diffusers/transformers/numpy removed.
    'mmagic': [
        'mmagic==1.2.0',
        'diffusers==0.24.0',
        'transformers==4.37.2',
        'huggingface_hub==0.20.3',
        'tokenizers<0.16',
        'opencv-python==4.9.0.80',
        'opencv-python-headless==4.9.0.80',
        'opencv-contrib-python==4.9.0.80',
        'pandas<2.2',
        'albumentations==1.4.24',
    ],
}


def _note(message: str) -> None:
    print(f'pafu_acda_mm setup: {message}', file=sys.stderr)


def ops_build() -> dict:
    """``setup`` arguments that build the C++ op, per :data:`OPS_SWITCH`."""
    if WITH_OPS == '0':
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        if WITH_OPS == '1':
            sys.exit(f'{OPS_SWITCH}=1: torch is not importable at build '
                     'time; install torch first and build with pip install '
                     '--no-build-isolation')
        _note('torch is not importable at build time (an isolated build): '
              'the C++ op compiles at first use instead')
        return {}

    class BuildOptionalExtension(BuildExtension):
        """torch's ``BuildExtension``; a failed build or an editable
        install leaves the op to be compiled at first use."""

        def run(self):
            if getattr(self, 'editable_mode', False) or self.inplace:
                # A module built into the checkout would go stale when the
                # source changes; the first-use build recompiles then.
                _note('editable install: the C++ op compiles at first use')
                return
            try:
                super().run()
            except (BaseError, CCompilerError, OSError,
                    subprocess.CalledProcessError) as error:
                if WITH_OPS == '1':
                    raise
                _note(f'the C++ op did not build ({error}); PAFU compiles '
                      'it at first use, or runs its pure-torch CPU path. '
                      f'{OPS_SWITCH}=1 makes this an error.')

    return dict(
        ext_modules=[
            CppExtension(
                'pafu_acda_mm._window_products',
                ['pafu_acda_mm/csrc/window_products.cpp'],
                # at::parallel_for is OpenMP in torch's CPU builds.
                extra_compile_args=['-O3', '-fopenmp'])
        ],
        cmdclass=dict(build_ext=BuildOptionalExtension))


setup(
    name='pafu_acda_mm',
    version='0.1.0',
    description='PAFU and ACDA per-pixel adaptive convolutions for OpenMMLab',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['pafu_acda_mm', 'pafu_acda_mm.*']),
    # The source of the C++ op, for its first-use build.
    package_data={'pafu_acda_mm': ['csrc/*.cpp']},
    install_requires=[
        # Both ends tested (README, "Supported versions").
        'torch>=2.1,<2.14',
        # CrashSafeCheckpointHook overrides a private CheckpointHook method:
        # tested against 0.10.7 (tests/engine/test_atomic_checkpoints.py).
        'mmengine>=0.10.7,<0.11',
        'mmcv>=2.1.0,<2.2.0',
        # Builds the C++ op at first use (with a C++ compiler).
        'ninja',
        'numpy<2',
        'scipy',
        # mmengine imports pkg_resources, which setuptools 81 removed.
        'setuptools<81',
    ],
    extras_require={
        **CODEBASE_REQUIRES,
        'all': sorted({r for reqs in CODEBASE_REQUIRES.values() for r in reqs}),
        # tools/deploy/export_onnx.py: export, check and run the ONNX file.
        'deploy': ['onnx', 'onnxruntime'],
        'tests': ['pytest'],
    },
    **ops_build(),
)
