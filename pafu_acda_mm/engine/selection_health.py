"""Selection health in the training log: how many of its kernels each PAFU
uses, and how its coefficients vary for each ACDA, logged with the losses.

A PAFU whose selector collapses onto one kernel is a plain convolution that
costs ``num_kernels`` times more to train; nothing else in a log shows it.
The statistics come from forward hooks on the layers' ``selector`` /
``atom_generator`` (the layers are not changed), are accumulated on the
layers' device and reach the message hub only when the logger logs.
"""
import logging
from functools import partial
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..layers import ACDA, PAFU

PAFU_STATISTICS = ('perplexity', 'unused', 'chosen_prob')
ACDA_STATISTICS = ('abs_mean', 'pixel_std')


def pafu_selection_statistics(logits: torch.Tensor) -> torch.Tensor:
    """Kernel usage of one PAFU forward, from its selector's logits.

    The selection is the argmax of the logits without Gumbel noise (how
    eval mode selects); its probability is ``softmax(logits)``, the
    probability that the layer's Gumbel sampling picks that kernel in
    training.

    Args:
        logits (Tensor): ``(B, n, H, W)`` selector logits over ``n`` kernels.

    Returns:
        Tensor: float32 ``(3,)`` on ``logits``' device: the perplexity
        ``exp(entropy)`` of the usage histogram over all pixels of the batch
        (1 when one kernel serves every pixel, ``n`` for uniform use), the
        fraction of the ``n`` kernels that no pixel selects, and the mean
        over pixels of the chosen kernel's probability.
    """
    logits = logits.detach().float()
    probs = logits.softmax(dim=1)
    chosen_prob, chosen = probs.max(dim=1, keepdim=True)
    # One-hot by scatter_ (each element written once): no host sync and
    # deterministic, unlike bincount on CUDA.
    usage = torch.zeros_like(probs).scatter_(1, chosen, 1.0).sum(
        dim=(0, 2, 3))
    usage = usage / usage.sum()
    entropy = -torch.special.xlogy(usage, usage).sum()
    return torch.stack([
        entropy.exp(), (usage == 0).float().mean(),
        chosen_prob.mean()
    ])


def acda_coefficient_statistics(layer: ACDA,
                                coeffs: torch.Tensor) -> torch.Tensor:
    """Per basis scale, the size and the spatial variation of one ACDA
    forward's coefficients.

    Args:
        layer (ACDA): The layer that predicted ``coeffs``.
        coeffs (Tensor): Its atom generator's output,
            ``(B, m * S * m', H, W)``; channel ``a * S * m' + k`` weighs
            basis ``k`` of atom ``a``, scale ``s`` owns bases ``s * m'`` to
            ``(s + 1) * m' - 1``.

    Returns:
        Tensor: float32 ``(2, S)`` on ``coeffs``' device, scales in
        ``layer.scales`` order: the mean absolute coefficient, and the
        standard deviation of each coefficient over the pixels of an image,
        averaged over images, atoms and bases (0 when the layer applies the
        same filter everywhere, i.e. is a plain convolution).
    """
    num_scales = len(layer.scales)
    per_atom = coeffs.shape[1] // layer.num_atoms
    # (B, m, S, m', H * W)
    coeffs = coeffs.detach().float().unflatten(
        1, (layer.num_atoms, num_scales, per_atom // num_scales)).flatten(-2)
    abs_mean = coeffs.abs().mean(dim=(0, 1, 3, 4))
    pixel_std = coeffs.std(dim=-1, correction=0).mean(dim=(0, 1, 3))
    return torch.stack([abs_mean, pixel_std])


@HOOKS.register_module()
class SelectionHealthHook(Hook):
    """Log PAFU kernel usage and ACDA coefficient statistics with the losses.

    At every iteration the logger logs, per PAFU module ``<name>`` (its
    name in the unwrapped model), the averages over the training forwards
    since the previous log of:

    - ``pafu/<name>/perplexity``: ``exp`` of the entropy of the kernel-usage
      histogram over the batch's pixels, from 1 (one kernel serves every
      pixel: the selection collapsed) to ``num_kernels`` (uniform use);
    - ``pafu/<name>/unused``: the fraction of kernels no pixel selected;
    - ``pafu/<name>/chosen_prob``: the mean selection probability of the
      chosen kernel (near 1: the selector is sure, Gumbel noise no longer
      explores).

    and per ACDA module, per basis scale ``<s>x<s>``,
    ``acda/<name>/<s>x<s>_abs_mean`` and ``acda/<name>/<s>x<s>_pixel_std``
    (see :func:`acda_coefficient_statistics`).

    The selection counted is the argmax of the training forward's logits
    without Gumbel noise (eval mode's rule). The values go through the
    Runner's message hub, so they appear in the text log, in ``scalars.json``
    and in every visualizer backend (TensorBoard, ...). A PAFU with more
    than one kernel whose perplexity stays below ``collapse_perplexity`` for
    ``collapse_logs`` consecutive logs gets one warning naming it.

    ``tools/train.py`` adds this hook to every config; elsewhere::

        custom_hooks = [dict(type='SelectionHealthHook')]

    Cost: a softmax and a scatter of the selector's logits, and two
    reductions of the ACDA coefficients, per forward, on the layers'
    device; one device-to-host copy per log (the logger syncs there too).

    Args:
        collapse_perplexity (float): Perplexity below which a PAFU counts
            as collapsed; > 1. Default: 1.1 (e.g. one kernel for 98% of
            the pixels).
        collapse_logs (int): Consecutive collapsed logs before the warning.
            Default: 3.
    """

    # Before LoggerHook (BELOW_NORMAL) in after_train_iter.
    priority = 'NORMAL'

    def __init__(self, collapse_perplexity: float = 1.1,
                 collapse_logs: int = 3):
        if (isinstance(collapse_perplexity, bool)
                or not isinstance(collapse_perplexity, (int, float))
                or not collapse_perplexity > 1):
            raise ValueError('collapse_perplexity must be a number > 1, got '
                             f'{collapse_perplexity!r}')
        if (not isinstance(collapse_logs, int)
                or isinstance(collapse_logs, bool) or collapse_logs < 1):
            raise ValueError(
                f'collapse_logs must be an int >= 1, got {collapse_logs!r}')
        self.collapse_perplexity = collapse_perplexity
        self.collapse_logs = collapse_logs
        self._logger_hook: Optional[LoggerHook] = None
        self._handles: list = []
        # Per scalar prefix ('pafu/<name>' or 'acda/<name>'): the sum of
        # the per-forward statistics since the last log, and its count.
        self._sums: Dict[str, torch.Tensor] = {}
        self._counts: Dict[str, int] = {}
        self._keys: Dict[str, List[str]] = {}
        self._num_kernels: Dict[str, int] = {}
        self._collapsed_logs: Dict[str, int] = {}
        self._warned: set = set()

    def before_train(self, runner) -> None:
        loggers = [hook for hook in runner.hooks
                   if isinstance(hook, LoggerHook)]
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.attach(model)
        if self._handles and not loggers:
            print_log(
                'SelectionHealthHook: the runner has no LoggerHook '
                '(default_hooks.logger), so the selection health of the '
                "model's PAFU/ACDA layers is not logged.",
                logger='current', level=logging.WARNING)
            self.detach()
        self._logger_hook = loggers[0] if loggers else None

    def attach(self, model: nn.Module) -> None:
        """Hook every PAFU selector and ACDA atom generator of ``model``."""
        for name, module in model.named_modules():
            if isinstance(module, PAFU):
                prefix = f'pafu/{name}'
                self._num_kernels[prefix] = module.num_kernels
                self._keys[prefix] = [
                    f'{prefix}/{stat}' for stat in PAFU_STATISTICS
                ]
                self._handles.append(
                    module.selector.register_forward_hook(
                        self._accumulator(prefix, module,
                                          pafu_selection_statistics)))
            elif isinstance(module, ACDA):
                prefix = f'acda/{name}'
                self._keys[prefix] = [
                    f'{prefix}/{scale}x{scale}_{stat}'
                    for stat in ACDA_STATISTICS for scale in module.scales
                ]
                self._handles.append(
                    module.atom_generator.register_forward_hook(
                        self._accumulator(
                            prefix, module,
                            partial(acda_coefficient_statistics, module))))

    def detach(self) -> None:
        """Remove the forward hooks and what they accumulated."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._sums.clear()
        self._counts.clear()

    def _accumulator(self, prefix: str, layer: nn.Module, statistics):

        def hook(submodule, inputs, output):
            # Validation and test forwards are not training's health.
            if not layer.training:
                return
            with torch.no_grad():
                values = statistics(output).flatten()
            self._sums[prefix] = (values if prefix not in self._sums else
                                  self._sums[prefix] + values)
            self._counts[prefix] = self._counts.get(prefix, 0) + 1

        return hook

    def _logger_logs_now(self, runner, batch_idx: int) -> bool:
        """LoggerHook.after_train_iter's condition for a log line."""
        logger = self._logger_hook
        return logger.every_n_inner_iters(batch_idx, logger.interval) or (
            logger.end_of_epoch(runner.train_dataloader, batch_idx) and
            (not logger.ignore_last
             or len(runner.train_dataloader) <= logger.interval))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self._sums or not self._logger_logs_now(runner, batch_idx):
            return
        prefixes = list(self._sums)
        device = self._sums[prefixes[0]].device
        # One device-to-host copy for every layer's statistics.
        values = torch.cat([(self._sums[prefix] /
                             self._counts[prefix]).to(device)
                            for prefix in prefixes]).tolist()
        self._sums.clear()
        self._counts.clear()
        position = 0
        for prefix in prefixes:
            keys = self._keys[prefix]
            scalars = dict(zip(keys, values[position:position + len(keys)]))
            position += len(keys)
            for key, value in scalars.items():
                runner.message_hub.update_scalar(f'train/{key}', value)
            if prefix.startswith('pafu/'):
                self._check_collapse(prefix, scalars[f'{prefix}/perplexity'])

    def _check_collapse(self, prefix: str, perplexity: float) -> None:
        num_kernels = self._num_kernels[prefix]
        if num_kernels == 1:  # nothing to collapse
            return
        collapsed = perplexity < self.collapse_perplexity
        self._collapsed_logs[prefix] = (
            self._collapsed_logs.get(prefix, 0) + 1 if collapsed else 0)
        if (self._collapsed_logs[prefix] >= self.collapse_logs
                and prefix not in self._warned):
            self._warned.add(prefix)
            print_log(
                f'SelectionHealthHook: PAFU {prefix[len("pafu/"):]!r} '
                'collapsed onto one kernel: its kernel-usage perplexity '
                f'stayed below {self.collapse_perplexity} for '
                f'{self.collapse_logs} logs (now {perplexity:.3f}; '
                f'{num_kernels} kernels would give up to {num_kernels}). '
                'See docs/tools.md, "Selection health".',
                logger='current', level=logging.WARNING)

    def after_train(self, runner) -> None:
        self.detach()
