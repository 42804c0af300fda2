"""How exactly a dense map follows a translation of its input."""
from typing import Tuple

import torch


def shift_equivariance_error(outputs: torch.Tensor,
                             shifted_outputs: torch.Tensor,
                             shift: Tuple[int, int], margin: int) -> float:
    """Largest ``|f(shift(x)) - shift(f(x))|`` where both are defined.

    Compares ``shifted_outputs[..., i + dy, j + dx]`` with
    ``outputs[..., i, j]`` over the overlap of the two windows, less
    ``margin`` pixels at every side, where zero padding at the image border
    (or the content that entered with the shift) reaches the receptive
    field.

    Args:
        outputs (Tensor): ``(..., H, W)``, the map of the input.
        shifted_outputs (Tensor): ``(..., H, W)``, the map of the input
            moved down by ``dy`` and right by ``dx`` (non-negative).
        shift (tuple[int, int]): ``(dy, dx)``.
        margin (int): The receptive field's radius.

    Returns:
        float: The maximum absolute difference (0 for exact equivariance).
    """
    (dy, dx), (height, width) = shift, outputs.shape[-2:]
    if height - dy <= 2 * margin or width - dx <= 2 * margin:
        raise ValueError(f'no pixel is {margin} away from the borders of '
                         f'both windows for shift {shift}')
    reference = outputs[..., margin:height - dy - margin,
                        margin:width - dx - margin]
    moved = shifted_outputs[..., dy + margin:height - margin,
                            dx + margin:width - margin]
    return (moved - reference).abs().max().item()
