"""Distributed runs on machines without CUDA (gloo, CPU DDP).

mmengine 0.10.7 always calls ``torch.cuda.set_device`` before
``init_process_group`` and gives DDP ``device_ids=[LOCAL_RANK]``, so
``launcher='pytorch'`` fails without a GPU. :func:`setup_cpu_distributed`
initialises the process group with gloo first (the Runner then skips its own
``init_dist``) and makes DDP wrap the CPU module without ``device_ids``. On a
CUDA machine it does nothing: nccl and ``device_ids`` as upstream.
:func:`destroy_distributed` ends a finished run's process group, which
mmengine's Runner leaves to the interpreter's exit.
"""
import datetime
import logging

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

LAUNCHERS = ('none', 'pytorch', 'slurm')


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` (and the process group) for a CPU distributed run.

    Call it before building the Runner, with ``cfg.launcher`` set.

    Args:
        cfg (Config): The run's config; ``env_cfg.dist_cfg`` (e.g.
            ``timeout``) is passed to ``init_process_group``, its backend
            replaced by gloo. ``model_wrapper_cfg`` gets ``device_ids=None``
            when it is a DDP; without one, mmengine's default
            ``MMDistributedDataParallel`` arguments are written out.

    Raises:
        ValueError: If ``cfg.launcher`` is not one of :data:`LAUNCHERS`, or
            is ``'slurm'`` on a machine without CUDA (use torchrun, e.g.
            ``tools/dist_train.sh``, which sets ``launcher='pytorch'``).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher not in LAUNCHERS:
        raise ValueError(
            f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f"launcher={launcher!r} needs CUDA; without it use "
            "launcher='pytorch' under torchrun (tools/dist_train.sh, "
            'tools/dist_test.sh)')
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    init_backend = dist_cfg.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise ValueError("env_cfg.dist_cfg.init_backend must be 'torch' on a "
                         f'machine without CUDA, got {init_backend!r}')
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        print_log(
            f"No CUDA: using the gloo backend instead of "
            f"{dist_cfg['backend']!r}.", logger='current',
            level=logging.WARNING)
    dist_cfg['backend'] = 'gloo'
    if dist_cfg.get('timeout') is not None:
        # Seconds in configs, as mmengine's init_dist reads them.
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(**dist_cfg)
    # What the Runner logs; it does not initialise the group again.
    cfg.env_cfg = dict(env_cfg, dist_cfg=dict(
        env_cfg.get('dist_cfg') or {}, backend='gloo'))

    # mmengine's own default wrapper, as a config that can drop device_ids.
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = MODEL_WRAPPERS.get(
        wrapper_cfg.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg


def destroy_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    Call it when a run has finished without error. gloo's worker thread
    releases a finished collective's tensors after the caller's ``wait()``
    has returned; when that release is still pending as the interpreter
    finalises (the evaluator's last ``broadcast_object_list``), the thread
    cannot take the GIL and the process aborts now and then (SIGABRT,
    "terminate called without an active exception"). Destroying the group
    does not stop the thread while DDP still holds the group. The barrier
    settles it: gloo releases a finished work under its queue lock, which
    the barrier's enqueue takes, and a barrier holds no tensors. After an
    error, leave the group alone: ranks in a collective would hang.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
