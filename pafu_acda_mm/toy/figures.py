"""Figures of the toy experiments, written as PNG files (matplotlib, Agg)."""
import textwrap
from typing import Dict

import matplotlib
import numpy as np
import torch

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  after choosing the backend


def _image(tensor: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` -> ``(H, W, C)`` for RGB or ``(H, W)`` for one channel."""
    array = tensor.detach().float().cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def _show(axis, tensor: torch.Tensor, title: str,
          **kwargs) -> matplotlib.image.AxesImage:
    """Draw ``(C, H, W)`` on ``axis`` without ticks; ``kwargs`` go to
    ``imshow``. Returns the image, for a colorbar."""
    image = _image(tensor)
    if image.ndim == 3:
        image = image.clip(0, 1)
    shown = axis.imshow(image, interpolation='nearest', **kwargs)
    axis.set_title('\n'.join(textwrap.wrap(title, 28)), fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
    return shown


def _save(figure: plt.Figure, path: str) -> None:
    figure.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(figure)


def plot_sad_comparison(path: str, inputs: torch.Tensor, target: torch.Tensor,
                        outputs: Dict[str, torch.Tensor]) -> None:
    """One SAD image: input, target, and per method its output and error.

    Args:
        path (str): PNG file to write.
        inputs (Tensor): ``(3, H, W)``.
        target (Tensor): ``(3, H, W)``.
        outputs (dict[str, Tensor]): Per method name, its ``(3, H, W)``
            output on ``inputs``.
    """
    columns = max(len(outputs), 2)
    figure, axes = plt.subplots(3, columns, figsize=(2.6 * columns, 8))
    _show(axes[0, 0], inputs, 'input')
    _show(axes[0, 1], target, 'target')
    for axis in axes[0, 2:]:
        axis.axis('off')
    for column, (name, out) in enumerate(outputs.items()):
        error = (out - target).abs().mean(dim=0, keepdim=True)
        _show(axes[1, column], out, name)
        shown = _show(
            axes[2, column],
            error,
            f'|error| {error.mean().item():.4f}',
            cmap='magma',
            vmin=0,
            vmax=1)
    figure.colorbar(shown, ax=axes[2, :].tolist(), shrink=0.8)
    _save(figure, path)


def plot_pafu_kernels(path: str, inputs: torch.Tensor, selection: torch.Tensor,
                      kernels: torch.Tensor, bias: torch.Tensor) -> None:
    """PAFU on SAD: the input, the selected kernel per pixel, the kernels.

    Args:
        path (str): PNG file to write.
        inputs (Tensor): ``(C_in, H, W)``.
        selection (Tensor): ``(H, W)`` int selected kernel index.
        kernels (Tensor): ``(n, C_out, C_in, k, k)``.
        bias (Tensor): ``(n, C_out)``.
    """
    num_kernels, out_channels, in_channels, size, _ = kernels.shape
    figure, axes = plt.subplots(
        1, 2 + num_kernels, figsize=(3.2 * (2 + num_kernels), 3.4))
    _show(axes[0], inputs, 'input')
    shown = _show(
        axes[1],
        selection[None].float(),
        'selected kernel',
        cmap='viridis',
        vmin=0,
        vmax=num_kernels - 1)
    figure.colorbar(shown, ax=axes[1], shrink=0.8, ticks=range(num_kernels))
    limit = max(kernels.abs().max().item(), 1e-8)
    for index in range(num_kernels):
        # Rows: output channels; columns: input channels; 1-pixel gaps.
        tiles = torch.full(
            (out_channels * (size + 1) - 1, in_channels * (size + 1) - 1),
            float('nan'))
        for row in range(out_channels):
            for col in range(in_channels):
                tiles[row * (size + 1):row * (size + 1) + size, col *
                      (size + 1):col * (size + 1) + size] = kernels[index, row,
                                                                    col]
        shown = _show(
            axes[2 + index],
            tiles[None],
            f'kernel {index}: |W|={kernels[index].norm().item():.3f}, '
            f'|b|={bias[index].norm().item():.3f}',
            cmap='RdBu_r',
            vmin=-limit,
            vmax=limit)
    figure.colorbar(shown, ax=axes[2:].tolist(), shrink=0.8)
    _save(figure, path)


def plot_pattern_detection(path: str, inputs: torch.Tensor,
                           target: torch.Tensor, outputs: Dict[str,
                                                               torch.Tensor],
                           shifted_inputs: torch.Tensor,
                           shifted_outputs: Dict[str, torch.Tensor]) -> None:
    """Pattern detection: maps on the scene and on the shifted scene.

    Args:
        path (str): PNG file to write.
        inputs (Tensor): ``(1, H, W)`` training scene.
        target (Tensor): ``(1, H, W)`` centre map.
        outputs (dict[str, Tensor]): Per method, ``(1, H, W)`` detection
            map of ``inputs``.
        shifted_inputs (Tensor): ``(1, H, W)`` the shifted scene.
        shifted_outputs (dict[str, Tensor]): Per method, the detection map
            of ``shifted_inputs``.
    """
    columns = 2 + len(outputs)
    figure, axes = plt.subplots(2, columns, figsize=(3 * columns, 6.2))
    _show(axes[0, 0], inputs, 'input', cmap='gray')
    _show(axes[0, 1], target, 'target', cmap='gray', vmin=0, vmax=1)
    _show(axes[1, 0], shifted_inputs, 'input shifted (20, 20)', cmap='gray')
    axes[1, 1].axis('off')
    for column, name in enumerate(outputs, start=2):
        out = outputs[name]
        mse = (out - target).square().mean().item()
        _show(
            axes[0, column],
            out,
            f'{name}: MSE {mse:.2e}',
            cmap='gray',
            vmin=0,
            vmax=1)
        _show(
            axes[1, column],
            shifted_outputs[name],
            f'{name}, shifted',
            cmap='gray',
            vmin=0,
            vmax=1)
    _save(figure, path)
