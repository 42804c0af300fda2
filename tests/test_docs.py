"""The README stays a user's page, every config folder documents itself (a
README and an mmseg-style metafile, all of them in model-index.yml), and the
configs the README shows build and train."""
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
MODEL_INDEX = REPO / 'model-index.yml'
METAFILE_MODELS = [
    model for path in yaml.safe_load(MODEL_INDEX.read_text())['Import']
    for model in yaml.safe_load((REPO / path).read_text())['Models']
]
UNITS = {'': 1, 'K': 1e3, 'M': 1e6}


def processes_and_batch(config_name: str):
    """``(N, M)`` of a name's ``NxbM`` (N processes of batch M), or None."""
    found = re.search(r'_(\d+)xb(\d+)', config_name)
    return None if found is None else tuple(map(int, found.groups()))


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
    # mmseg's layout: one collection, its training data that of its models.
    (collection, ) = meta['Collections']
    assert collection['README'] == readme
    assert collection['Frameworks'] == ['PyTorch']
    assert collection['Metadata']['Training Data'] == sorted(
        {model['Metadata']['Training Data']
         for model in meta['Models']})
    for model in meta['Models']:
        assert model['Name'] == Path(model['Config']).stem
        assert model['In Collection'] == collection['Name']
        assert model['README'] == readme
        assert model['Paper'] == collection['Paper']
        assert model['Paper']['URL'].startswith('https://arxiv.org/abs/')
        assert {'Training Data', 'Batch Size', 'Training Resources',
                'Parameters'} <= set(model['Metadata'])
        assert len({'Epochs', 'Iterations'} & set(model['Metadata'])) == 1
        for result in model.get('Results', []):  # the paper's numbers
            assert set(result) == {'Task', 'Dataset', 'Metrics'}
            assert result['Metrics'] and all(
                isinstance(value, float)
                for value in result['Metrics'].values())
        assert 'Weights' not in model  # no checkpoint is published


def test_model_index_imports_every_metafile():
    from modelindex.load_model_index import load

    assert yaml.safe_load(MODEL_INDEX.read_text())['Import'] == [
        str((folder / 'metafile.yaml').relative_to(REPO))
        for folder in CONFIG_FOLDERS
    ]
    # As OpenMMLab's tools read it: every shipped config, the paper's
    # numbers as results.
    index = load(str(MODEL_INDEX))
    assert sorted(model.config for model in index.models) == sorted(
        str(path.relative_to(REPO))
        for path in (REPO / 'configs').glob('*/*.py')
        if path.parent.name != '_base_')
    assert {model.in_collection for model in index.models} == {
        collection.name for collection in index.collections}
    results = [
        result for model in index.models for result in model.results or []
    ]
    assert results and all(result.task and result.dataset and result.metrics
                           for result in results)


@pytest.mark.parametrize('folder', CONFIG_FOLDERS, ids=lambda p: p.name)
def test_readme_trains_the_batch_the_config_name_says(folder):
    # `dist_train.sh CONFIG P` runs P processes of the config's batch, or of
    # the batch its --cfg-options set.
    lines = re.findall(
        r'^bash tools/dist_train\.sh (\S+) (\d+)(?: --cfg-options '
        r'train_dataloader\.batch_size=(\d+))?', (folder / 'README.md')
        .read_text(), re.M)
    for config, processes, batch in lines:
        named = processes_and_batch(config)
        if not batch:
            assert int(processes) == named[0], config
        assert int(processes) * int(batch or named[1]) == named[0] * named[1]
    assert lines or all(
        processes_and_batch(path.name) is None
        for path in folder.glob('*.py'))


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
def test_metafile_parameters_and_batch_are_the_configs(model):
    from pafu_acda_mm.engine import build_model_from_config

    metadata = model['Metadata']
    number, unit = re.fullmatch(r'(\d+(?:\.(\d+))?) ?([KM]?)',
                                metadata['Parameters']).group(1, 3)
    decimals = len(number.partition('.')[2])
    with DefaultScope.overwrite_default_scope(None):
        cfg, built = build_model_from_config(str(REPO / model['Config']))
    count = sum(param.numel() for param in built.parameters())
    assert f'{count / UNITS[unit]:.{decimals}f}' == number, count
    # The total batch: the name's N processes of the config's batch M.
    batch = cfg.train_dataloader.batch_size
    named = processes_and_batch(model['Name'])
    if named is not None:
        assert batch == named[1]
        assert metadata['Training Resources'].startswith(
            f'{named[0]}x GPUs, batch size {batch} per GPU')
    assert metadata['Batch Size'] == (named or (1, ))[0] * batch
