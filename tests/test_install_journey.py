"""A user's install: the plugin's sdist and wheel in a fresh environment that
holds only what an OpenMMLab user has (torch 2.1.2, OpenMMLab's mmcv 2.1.0
wheel, mmengine, mmpretrain, and what the plugin declares), then PAFU and ACDA
trained from a config through ``custom_imports``, from installed files only:
once with no C++ compiler or ninja on ``PATH`` (the wheel built without the
op, PAFU on its pure-torch path, one warning), once with the op built at
install time.

The fresh environment is a new venv whose site-packages links exactly those
distributions from the test's own environment, where they have the versions
a user's pip resolves: no download, no copy of torch. It runs on torch 2.1
only, the torch that OpenMMLab's mmcv wheels exist for.
"""
import email.parser
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pafu_acda_mm.torch_compat import TORCH_VERSION

REPO = Path(__file__).resolve().parents[1]
# What a user's environment holds before the plugin (docs/install.md).
USER_STACK = ('pip', 'setuptools', 'torch', 'torchvision', 'mmcv',
              'mmengine', 'opencv-python-headless', 'mmpretrain')
FALLBACK_WARNING = "PAFU's fused CPU forward (a C++ op) is unavailable"

pytestmark = [
    pytest.mark.e2e, pytest.mark.oldest_torch,
    pytest.mark.skipif(TORCH_VERSION != (2, 1),
                       reason="a user's environment: OpenMMLab's mmcv wheels "
                       'exist up to torch 2.1')
]

TRAIN_STEPS = '''
"""PAFU and ACDA each train two iterations, then resume for a third."""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet', conv_cfg={conv_cfg}),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=16,
              loss=dict(type='CrossEntropyLoss')),
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=2))
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root='{data}',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackInputs')]))
train_cfg = dict(by_epoch=False, max_iters={iters})
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False))
work_dir = '{work_dir}'
resume = {resume}
"""

work = Path(sys.argv[1])
for label in (0, 1):
    folder = work / 'data' / str(label)
    folder.mkdir(parents=True)
    for index in range(2):
        pixels = np.random.RandomState(2 * label + index).randint(
            0, 256, (32, 32, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f'{index}.png'), pixels)
for conv_cfg in (dict(type='PAFU', num_kernels=2), dict(type='ACDA')):
    work_dir = work / conv_cfg['type']
    for iters, resume in ((2, False), (3, True)):
        config = work / f'{conv_cfg["type"]}_{iters}.py'
        config.write_text(CONFIG.format(
            conv_cfg=conv_cfg, data=work / 'data', iters=iters,
            work_dir=work_dir, resume=resume))
        runner = Runner.from_cfg(Config.fromfile(str(config)))
        runner.train()
        assert (work_dir / f'iter_{iters}.pth').is_file()
    assert runner.iter == 3

import pafu_acda_mm
from pafu_acda_mm.ops.window_products import _extension

extension = _extension()
print(json.dumps(dict(
    plugin=pafu_acda_mm.__file__,
    extension=None if extension is None else extension.__file__)))
'''


def _closure(
    requirements: Iterable[str]
) -> Dict[str, importlib.metadata.Distribution]:
    """The installed distributions that ``requirements`` need, recursively
    (markers evaluated, extras followed)."""
    found, pending = {}, [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found[name] = importlib.metadata.distribution(name)
        for line in found[name].requires or []:
            needed = Requirement(line)
            if needed.marker is None or any(
                    needed.marker.evaluate({'extra': extra})
                    for extra in requirement.extras or {''}):
                pending.append(needed)
    return found


def _sdist_requirements(sdist: Path, extra: str) -> List[str]:
    """The sdist's ``Requires-Dist`` lines for an install with ``extra``."""
    folder = sdist.name[:-len('.tar.gz')]
    with tarfile.open(sdist) as archive:
        metadata = archive.extractfile(f'{folder}/PKG-INFO').read().decode()
    message = email.parser.Parser().parsestr(metadata)
    return [
        line for line in message.get_all('Requires-Dist')
        if Requirement(line).marker is None
        or Requirement(line).marker.evaluate({'extra': extra})
    ]


def _user_venv(venv: Path, requirements: Iterable[str]) -> Path:
    """A new venv at ``venv`` whose site-packages links the distributions
    of :func:`_closure`; returns its python."""
    subprocess.run([sys._base_executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    site, = venv.glob('lib/python3*/site-packages')
    for distribution in _closure(requirements).values():
        root = Path(distribution.locate_file(''))
        tops = {Path(file).parts[0] for file in distribution.files}
        for top in tops - {'..', '__pycache__'}:
            if not (site / top).exists():
                (site / top).symlink_to(root / top)
    return venv / 'bin' / 'python'


def _run(command: List[str], env: dict, cwd: Path):
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True,
                            text=True)
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-5000:])
    return result


@pytest.fixture(scope='module')
def journey(tmp_path_factory):
    """The sdist, the user's venv's python, and the environment variables
    of commands in that venv, with or without the build tools on
    ``PATH``."""
    tmp = tmp_path_factory.mktemp('install_journey')
    # What a clone holds: tracked and untracked, not ignored, files.
    files = subprocess.run(
        ['git', '-C', str(REPO), 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'], capture_output=True, check=True).stdout
    source = tmp / 'source'
    for name in filter(None, files.decode().split('\0')):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    _run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(tmp)],
         dict(os.environ, PAFU_ACDA_MM_WITH_OPS='0'), source)
    sdist, = tmp.glob('pafu_acda_mm-*.tar.gz')
    python = _user_venv(
        tmp / 'venv',
        (*USER_STACK, *_sdist_requirements(sdist, 'mmpretrain')))

    def environment(with_tools: bool) -> dict:
        bin_path = str(python.parent)
        extensions = tmp / f'torch_extensions_{with_tools}'
        extensions.mkdir(exist_ok=True)
        return dict(
            PATH=(f'{bin_path}:{os.environ["PATH"]}'
                  if with_tools else bin_path),
            HOME=os.environ['HOME'],
            TORCH_EXTENSIONS_DIR=str(extensions),
            MPLCONFIGDIR=str(tmp / 'matplotlib'),
            PIP_CONFIG_FILE=os.devnull,
            PIP_NO_INDEX='1',
            PIP_NO_CACHE_DIR='1',
            PIP_DISABLE_PIP_VERSION_CHECK='1')

    return tmp, sdist, python, environment


def _build_wheel(journey, with_tools: bool) -> Path:
    """``pip wheel --no-build-isolation`` of the sdist in the user's venv,
    with or without a compiler and ninja on ``PATH``; with them, the op
    must build."""
    tmp, sdist, python, environment = journey
    env = environment(with_tools)
    if with_tools:
        env['PAFU_ACDA_MM_WITH_OPS'] = '1'
    out = tmp / f'wheel_{with_tools}'
    _run([str(python), '-m', 'pip', 'wheel', '--no-deps',
          '--no-build-isolation', '-w', str(out), str(sdist)], env, tmp)
    wheel, = out.glob('pafu_acda_mm-*.whl')
    return wheel


def _train(journey, wheel: Path, with_tools: bool):
    """Install ``wheel`` into the user's venv, train; the run's report and
    its stderr."""
    tmp, _, python, environment = journey
    env = environment(with_tools)
    _run([str(python), '-m', 'pip', 'install', '--force-reinstall',
          '--no-deps', str(wheel)], env, tmp)
    # Its requirements are all there: a user's pip would install nothing.
    _run([str(python), '-m', 'pip', 'check'], env, tmp)
    work = tmp / f'run_{with_tools}'
    work.mkdir()
    script = work / 'train_steps.py'
    script.write_text(TRAIN_STEPS)
    result = _run([str(python), '-I', str(script), str(work)], env, work)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Each resumed from iter_2.pth, through the plugin's weights-only loader.
    assert result.stdout.count('resumed epoch: 0, iter: 2') == 2
    site, = (tmp / 'venv').glob('lib/python3*/site-packages')
    assert Path(report['plugin']).is_relative_to(site)
    return report, result.stderr, Path(env['TORCH_EXTENSIONS_DIR'])


def test_without_compiler_pafu_trains_on_its_torch_path_with_one_warning(
        journey):
    # The compiler is missing at build time too: the wheel has no op.
    wheel = _build_wheel(journey, with_tools=False)
    assert not [
        name for name in zipfile.ZipFile(wheel).namelist()
        if name.endswith('.so')
    ]
    report, stderr, _ = _train(journey, wheel, with_tools=False)
    assert report['extension'] is None
    assert stderr.count(FALLBACK_WARNING) == 1, stderr[-3000:]
    assert 'needs ninja and a C++ compiler (c++), not found on PATH' in stderr
    assert 'pip install --no-build-isolation' in stderr


def test_with_compiler_the_op_builds_at_install_time(journey):
    wheel = _build_wheel(journey, with_tools=True)
    assert [
        name for name in zipfile.ZipFile(wheel).namelist()
        if name.startswith('pafu_acda_mm/_window_products')
    ]
    report, stderr, extensions = _train(journey, wheel, with_tools=True)
    assert FALLBACK_WARNING not in stderr
    site, = (journey[0] / 'venv').glob('lib/python3*/site-packages')
    assert Path(report['extension']).parent == site / 'pafu_acda_mm'
    # Nothing compiled at first use.
    assert not any(extensions.iterdir())
