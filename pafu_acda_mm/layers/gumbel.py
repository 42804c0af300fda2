"""Straight-through Gumbel-softmax selection over a channel dimension."""
import torch
import torch.nn.functional as F

# Uniform samples are kept inside (0, 1) so that -log(-log(u)) stays finite.
_UNIFORM_EPS = 1e-6
# fp16 logits overflow to +-inf; bounded, they still select and differentiate.
_LOGIT_LIMIT = 1e30


def straight_through_gumbel_softmax(logits: torch.Tensor,
                                    tau: float = 1.0,
                                    dim: int = 1,
                                    sample: bool = True) -> torch.Tensor:
    """Hard one-hot selection in the forward, soft probabilities' gradient.

    Noise, softmax and argmax run in float32 whatever the input dtype, and
    logits are bounded to +-1e30 first, so fp16/bf16 logits of any
    magnitude, overflowed ones included, give a finite result.

    Args:
        logits (Tensor): Unnormalised scores, e.g. ``(B, n, H, W)``.
        tau (float): Softmax temperature (> 0) of the backward surrogate;
            the forward is always the exact argmax of the noisy scores.
            Default: 1.0.
        dim (int): The dimension to select over. Default: 1.
        sample (bool): Add Gumbel noise (training). Without it the selection
            is the plain, deterministic argmax of ``logits``. Default: True.

    Returns:
        Tensor: Same shape and dtype as ``logits``; exactly one-hot along
        ``dim``. Its gradient is that of ``softmax((logits + g) / tau)``.
    """
    scores = _scores(logits, sample)
    soft = F.softmax(scores / tau, dim=dim)
    index = scores.argmax(dim=dim, keepdim=True)
    hard = torch.zeros_like(soft).scatter_(dim, index, 1.0)
    # `soft - soft.detach()` is exactly 0, so the values stay exactly one-hot.
    return (hard + (soft - soft.detach())).to(logits.dtype)


def gumbel_argmax(logits: torch.Tensor,
                  dim: int = 1,
                  sample: bool = True) -> torch.Tensor:
    """The forward selection of :func:`straight_through_gumbel_softmax` as an
    index, without the one-hot tensor and the softmax (for inference).

    Draws the same noise from the same random state, so both select the same.

    Args:
        logits (Tensor): Unnormalised scores, e.g. ``(B, n, H, W)``.
        dim (int): The dimension to select over. Default: 1.
        sample (bool): Add Gumbel noise. Default: True.

    Returns:
        Tensor: int64 indices, ``logits``'s shape without ``dim``.
    """
    return _scores(logits, sample).argmax(dim=dim)


def _scores(logits: torch.Tensor, sample: bool) -> torch.Tensor:
    """Bounded float32 logits, plus Gumbel noise if ``sample``."""
    scores = logits.float().clamp(-_LOGIT_LIMIT, _LOGIT_LIMIT)
    if sample:
        uniform = torch.rand_like(scores).clamp_(_UNIFORM_EPS,
                                                 1 - _UNIFORM_EPS)
        scores = scores - torch.log(-torch.log(uniform))
    return scores
