import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner, load_checkpoint, save_checkpoint
from pafu_selection import force_kernel

import pafu_acda_mm.engine  # noqa: F401  registers PAFUDeployedModel
from pafu_acda_mm.layers import PAFU


@pytest.mark.e2e
def test_converted_checkpoint_loads_with_the_written_config_and_matches(
        run_tool, data_dir, small_sad, tmp_path):
    config = data_dir / 'sad_with_test_set.py'
    cfg = Config.fromfile(config)
    cfg.val_dataloader.dataset.update(num_samples=4, size=32)  # small_sad
    model = MODELS.build(cfg.model).eval()
    name, pafu = next((n, m) for n, m in model.named_modules()
                      if isinstance(m, PAFU))
    force_kernel(pafu, 1)
    save_checkpoint(dict(meta=dict(), state_dict=model.state_dict()),
                    str(tmp_path / 'trained.pth'))

    result = run_tool('tools/deploy/convert.py', config,
                      tmp_path / 'trained.pth', tmp_path / 'deploy.pth',
                      '--cfg-options', *small_sad)
    assert f'{name}: kernel shares [0.0, 1.0] -> nn.Conv2d (kernel 1)' in (
        result.stdout + result.stderr)

    deploy_cfg = Config.fromfile(tmp_path / 'deploy.py')
    assert deploy_cfg.load_from == str(tmp_path / 'deploy.pth')
    deployed = MODELS.build(deploy_cfg.model).eval()
    load_checkpoint(deployed, deploy_cfg.load_from, strict=True)
    assert type(deployed.get_submodule(name)) is nn.Conv2d
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.val_dataloader):
            assert torch.allclose(
                deployed(**batch, mode='tensor'),
                model(**batch, mode='tensor'), atol=1e-5)
