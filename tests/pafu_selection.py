"""Make a PAFU select a chosen kernel at every pixel, whatever its selector's
normalisation (tests that need a known selection)."""
import torch

from pafu_acda_mm.layers import PAFU


def force_kernel(pafu: PAFU, kernel: int, margin: float = 50.0) -> None:
    """Set ``pafu``'s logits to ``+margin`` for ``kernel`` and ``-margin``
    for the others at every pixel.

    With the predict conv's weights at zero, the logits are the last bias:
    the conv's, or that of its BatchNorm, whose output for a zero input is
    its bias in training and, with fresh statistics, in eval mode.
    """
    selector = pafu.selector
    logit_bias = (selector.predict.bias if selector.predict.bias is not None
                  else selector.predict_norm.bias)
    with torch.no_grad():
        selector.predict.weight.zero_()
        logit_bias.fill_(-margin)
        logit_bias[kernel] = margin
