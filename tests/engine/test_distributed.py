import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from pafu_acda_mm.engine import destroy_distributed, setup_cpu_distributed
from pafu_acda_mm.layers import ACDA, PAFU

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason='covers machines without CUDA')


def test_no_launcher_leaves_config_untouched():
    cfg = Config(dict(launcher='none'))
    setup_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg and not torch_dist.is_initialized()


@pytest.mark.parametrize('launcher, match', [('mpi', 'launcher must be'),
                                             ('slurm', 'needs CUDA')])
def test_unsupported_launchers_are_refused(launcher, match):
    with pytest.raises(ValueError, match=match):
        setup_cpu_distributed(Config(dict(launcher=launcher)))


@pytest.fixture
def torchrun_env(monkeypatch):
    """The environment torchrun gives a single process."""
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', '29731')
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('LOCAL_RANK', '0')
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def test_pytorch_launcher_initialises_gloo_and_cpu_ddp(torchrun_env):
    cfg = Config(
        dict(launcher='pytorch',
             env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    setup_cpu_distributed(cfg)
    assert torch_dist.get_backend() == 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel',
                                         broadcast_buffers=False,
                                         find_unused_parameters=False,
                                         device_ids=None)


def test_destroy_distributed_ends_the_group_and_is_a_no_op_without_one(
        torchrun_env):
    setup_cpu_distributed(Config(dict(launcher='pytorch')))
    assert torch_dist.is_initialized()
    destroy_distributed()
    assert not torch_dist.is_initialized()
    destroy_distributed()


@pytest.mark.parametrize('layer', [
    PAFU(3, 4, 3, padding=1, num_kernels=4),
    PAFU(3, 4, (3, 5), padding=2, num_kernels=4),
    ACDA(3, 4, 5, padding=2),
],
                         ids=['PAFU', 'PAFU-mixed', 'ACDA'])
def test_ddp_needs_no_find_unused_parameters(torchrun_env, layer):
    """DDP with find_unused_parameters=False raises at the next step if a
    parameter got no gradient; every parameter must get one every step."""
    cfg = Config(dict(launcher='pytorch'))
    setup_cpu_distributed(cfg)
    model = MODEL_WRAPPERS.build(
        cfg.model_wrapper_cfg, default_args=dict(module=layer))
    assert isinstance(model, MMDistributedDataParallel)
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        model(torch.randn(2, 3, 9, 9)).square().mean().backward()
        missing = [name for name, p in layer.named_parameters()
                   if p.grad is None]
        assert not missing
