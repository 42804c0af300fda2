"""Helpers of the tests of loading plain convs into PAFU and ACDA: the
load's summary lines, and PAFU's step-0 bound."""
import contextlib
import logging

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

SUMMARY = 'Plain conv parameters converted'


@contextlib.contextmanager
def summary_lines():
    """Yield the list that collects the summary lines logged (through
    mmengine's current logger) while the context is entered."""
    lines = []

    def collect(record):
        if record.getMessage().startswith(SUMMARY):
            lines.append(record.getMessage())

    handler = logging.Handler()
    handler.emit = collect
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def pafu_step0_bound(layer, conv_weight: torch.Tensor,
                     x: torch.Tensor) -> torch.Tensor:
    """``eps ||W_o|| ||x_window||``: how far a warm-started PAFU's output may
    be from the conv's, per output channel and pixel,
    ``(B, C_out, H_out, W_out)``."""
    ones = x.new_ones(layer.groups, layer.in_channels // layer.groups,
                      *layer.kernel_size)
    window_norms = F.conv2d(x.square(), ones, None, layer.stride,
                            layer.padding, layer.dilation,
                            layer.groups).sqrt().repeat_interleave(
                                layer.out_channels // layer.groups, dim=1)
    row_norms = conv_weight.detach().flatten(1).norm(dim=1)
    return layer.warm_start_eps * row_norms.view(1, -1, 1, 1) * window_norms
