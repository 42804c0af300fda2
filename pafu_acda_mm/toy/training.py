"""Train a toy experiment's Runner and keep what its final validation
measured: the metrics, and the weights (an ``EMAHook``'s average)."""
from mmengine.hooks import EMAHook, Hook
from mmengine.runner import Runner


class _LastValidationMetrics(Hook):
    """Keep the metrics of the latest validation."""

    priority = 'LOWEST'

    def __init__(self):
        self.metrics = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = dict(metrics)


def train_and_validate(runner: Runner) -> dict:
    """Train ``runner`` (mmengine's loops validate at the last iteration
    when a validation loop is configured) and leave its model in eval mode
    with the weights that were validated.

    With an ``EMAHook``, the validation inside training measures the
    averaged weights, which a later ``runner.val()`` would not (it starts
    the hooks afresh), so these metrics are that validation's, and the
    averaged weights are loaded into the model for what follows (figures,
    kernel checks).

    Args:
        runner (Runner): A built runner with a training loop.

    Returns:
        dict: The metrics of the validation that ended training.

    Raises:
        RuntimeError: If training ran no validation.
    """
    recorder = _LastValidationMetrics()
    runner.register_hook(recorder)
    runner.train()
    if recorder.metrics is None:
        raise RuntimeError('training ran no validation: the config needs '
                           'val_dataloader, val_cfg and val_evaluator')
    for hook in runner.hooks:
        if isinstance(hook, EMAHook):
            hook.before_val_epoch(runner)  # swaps the averaged weights in
    runner.model.eval()
    return recorder.metrics
