"""Packaging for pafu_acda_mm.

Ranges here say what the plugin works with; requirements/lock.txt pins the exact
resolved set that tools/setup_env.sh installs.
"""
from setuptools import find_packages, setup

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

setup(
    name='pafu_acda_mm',
    version='0.1.0',
    description='PAFU and ACDA per-pixel adaptive convolutions for OpenMMLab',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['pafu_acda_mm', 'pafu_acda_mm.*']),
    # The fused PAFU forward compiles this source at first use.
    package_data={'pafu_acda_mm': ['csrc/*.cpp']},
    install_requires=[
        # Both ends tested (README, "Supported versions").
        'torch>=2.1,<2.14',
        'mmengine>=0.10.7,<0.11',
        'mmcv>=2.1.0,<2.2.0',
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
)
