"""The README stays a user's page, every config folder documents itself, and
the configs the README shows build and train."""
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, DefaultScope

REPO = Path(__file__).resolve().parents[1]
README = REPO / 'README.md'
EXAMPLES = sorted((REPO / 'docs' / 'examples').glob('*.py'))
CONFIG_FOLDERS = sorted(path for path in (REPO / 'configs').iterdir()
                        if path.is_dir() and path.name != '_base_')
METAFILE_MODELS = [
    model for folder in CONFIG_FOLDERS for model in yaml.safe_load(
        (folder / 'metafile.yaml').read_text())['Models']
]
UNITS = {'': 1, 'K': 1e3, 'M': 1e6}


def test_readme_stays_short():
    assert len(README.read_text().splitlines()) <= 250


def _is_commit(word: str) -> bool:
    return subprocess.run(
        ['git', '-C', str(REPO), 'cat-file', '-e', f'{word}^{{commit}}'],
        capture_output=True).returncode == 0


def test_readme_names_no_commit():
    words = set(re.findall(r'\b[0-9a-f]{7,40}\b', README.read_text()))
    assert not [word for word in words if _is_commit(word)]


@pytest.mark.parametrize('folder', CONFIG_FOLDERS, ids=lambda p: p.name)
def test_config_folder_has_readme_and_metafile(folder):
    assert (folder / 'README.md').is_file()
    assert (folder / 'metafile.yaml').is_file()


@pytest.mark.parametrize('folder', CONFIG_FOLDERS, ids=lambda p: p.name)
def test_metafile_lists_exactly_the_folders_configs(folder):
    meta = yaml.safe_load((folder / 'metafile.yaml').read_text())
    listed = [model['Config'] for model in meta['Models']]
    shipped = sorted(
        str(path.relative_to(REPO)) for path in folder.glob('*.py'))
    assert sorted(listed) == shipped
    readme = str((folder / 'README.md').relative_to(REPO))
    for model in meta['Models']:
        assert model['Name'] == Path(model['Config']).stem
        assert model['README'] == readme
        assert model['Paper']['URL'].startswith('https://arxiv.org/abs/')
        assert {'Parameters', 'Training Resources'} <= set(model['Metadata'])
        assert 'Weights' not in model  # no checkpoint is published


@pytest.mark.parametrize('example', EXAMPLES, ids=lambda p: p.stem)
def test_readme_shows_the_example_config_verbatim(example):
    assert example.read_text().strip() in README.read_text()


@pytest.mark.parametrize('example', EXAMPLES, ids=lambda p: p.stem)
def test_example_config_builds_and_trains_a_step(example):
    from mmpretrain.structures import DataSample

    from pafu_acda_mm.layers import ACDA, PAFU

    cfg = Config.fromfile(example)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    layer = PAFU if 'PAFU' in cfg.model.backbone.conv_cfg.type else ACDA
    assert sum(isinstance(m, layer) for m in model.modules()) >= 20
    torch.manual_seed(0)
    data = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)] * 2,
        data_samples=[DataSample().set_gt_label(i) for i in (0, 1)])
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    losses = model.train_step(data, optim_wrapper)
    assert ('loss_decorrelation' in losses) == (layer is PAFU)
    assert all(torch.isfinite(value) for value in losses.values())


@pytest.mark.parametrize('model', METAFILE_MODELS, ids=lambda m: m['Name'])
def test_metafile_parameters_are_the_built_models(model):
    from pafu_acda_mm.engine import build_model_from_config

    number, unit = re.fullmatch(r'(\d+(?:\.(\d+))?) ?([KM]?)',
                                model['Metadata']['Parameters']).group(1, 3)
    decimals = len(number.partition('.')[2])
    with DefaultScope.overwrite_default_scope(None):
        _, built = build_model_from_config(str(REPO / model['Config']))
    count = sum(param.numel() for param in built.parameters())
    assert f'{count / UNITS[unit]:.{decimals}f}' == number, count
