"""Alternate training between PAFU's kernel selectors and the rest of the
model, as the PAFU paper trains (Kokkinos et al. 2019, section 4.1: "as a
first step the filter selection unit is optimized and then the kernels;
with a ratio one to three")."""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS

from ..layers import PAFU


@HOOKS.register_module()
class PAFUAlternatingOptimizationHook(Hook):
    """Train the PAFU selectors alone for ``selector_iters`` iterations, then
    everything else (the kernels, the biases, the rest of the network) for
    ``kernel_iters`` iterations, and repeat.

    The parameters of the phase at rest get ``requires_grad=False`` for the
    iteration: backward then computes no gradient for them, and an optimizer
    that skips parameters without a gradient (every ``torch.optim`` one)
    leaves them and their state (Adam's moments and step count) untouched.
    BatchNorm statistics keep updating in every phase. ``requires_grad`` is
    restored after training.

    Use it through ``custom_hooks``::

        custom_hooks = [dict(type='PAFUAlternatingOptimizationHook',
                             selector_iters=1, kernel_iters=3)]

    Under DDP, the model wrapper needs ``find_unused_parameters=True``
    (each phase leaves a part of the model without gradients). Gradient
    accumulation is refused: one optimizer step would apply both phases'
    gradients.

    Args:
        selector_iters (int): Iterations per cycle that train the
            selectors, first in the cycle. Default: 1.
        kernel_iters (int): Iterations per cycle that train all other
            parameters. Default: 3.
    """

    priority = 'NORMAL'

    def __init__(self, selector_iters: int = 1, kernel_iters: int = 3):
        for name, value in (('selector_iters', selector_iters),
                            ('kernel_iters', kernel_iters)):
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < 1):
                raise ValueError(
                    f'{name} must be an int >= 1, got {value!r}')
        self.selector_iters = selector_iters
        self.kernel_iters = kernel_iters
        self._phases: Optional[Dict[str, List[nn.Parameter]]] = None
        # Keyed by id(): tensors compare elementwise.
        self._trainable: Optional[Dict[int, bool]] = None

    def before_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            if not getattr(model, 'find_unused_parameters', True):
                raise ValueError(
                    'PAFUAlternatingOptimizationHook leaves a part of the '
                    'model without gradients in every iteration: set '
                    'model_wrapper_cfg=dict(type=..., '
                    'find_unused_parameters=True)')
            model = model.module
        wrappers = (runner.optim_wrapper.values() if isinstance(
            runner.optim_wrapper, OptimWrapperDict) else
                    [runner.optim_wrapper])
        for wrapper in wrappers:
            # mmengine keeps the count private; the default is 1.
            counts = getattr(wrapper, '_accumulative_counts', 1)
            if counts != 1:
                raise ValueError(
                    'PAFUAlternatingOptimizationHook alternates every '
                    'iteration, so it needs optim_wrapper.accumulative_counts'
                    f'=1, got {counts}')
        self._phases = self.split_parameters(model)
        self._trainable = {
            id(param): param.requires_grad
            for params in self._phases.values() for param in params
        }

    @staticmethod
    def split_parameters(model: nn.Module) -> Dict[str, List[nn.Parameter]]:
        """The parameters of every PAFU selector, and all the others.

        Args:
            model (nn.Module): A model with PAFU modules.

        Returns:
            dict[str, list[Parameter]]: ``'selector'`` and ``'kernels'``.

        Raises:
            ValueError: If ``model`` has no PAFU module.
        """
        selectors = [m.selector for m in model.modules() if isinstance(m, PAFU)]
        if not selectors:
            raise ValueError('PAFUAlternatingOptimizationHook needs a model '
                             f'with PAFU modules, {type(model).__name__} has '
                             'none')
        selector_ids = {
            id(p)
            for selector in selectors for p in selector.parameters()
        }
        selector_params, other_params = [], []
        for param in model.parameters():
            (selector_params
             if id(param) in selector_ids else other_params).append(param)
        return dict(selector=selector_params, kernels=other_params)

    def phase(self, iteration: int) -> str:
        """``'selector'`` or ``'kernels'``: what ``iteration`` (0-based)
        trains."""
        cycle = self.selector_iters + self.kernel_iters
        return ('selector' if iteration % cycle < self.selector_iters else
                'kernels')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        active = self.phase(runner.iter)
        for name, params in self._phases.items():
            for param in params:
                param.requires_grad_(self._trainable[id(param)]
                                     and name == active)

    def after_train(self, runner) -> None:
        for params in self._phases.values():
            for param in params:
                param.requires_grad_(self._trainable[id(param)])
