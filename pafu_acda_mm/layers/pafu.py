"""PAFU: pixel adaptive filtering unit (Kokkinos et al. 2019)."""
from functools import partial
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .conv_geometry import Conv2dGeometry
from .conv_warm_start import pafu_params_from_conv
from .gumbel import gumbel_argmax, straight_through_gumbel_softmax
from .onnx_export import pafu_onnx_forward
from .pixel_predictor import PixelPredictor
from .plain_conv_loading import PlainConvLoading
from ..ops import indexed_conv2d, selected_conv2d
from ..ops.memory_format import memory_format_of, to_channels_last
from ..torch_compat import get_autocast_dtype, is_autocast_enabled


@MODELS.register_module('PAFU')
class PAFU(PlainConvLoading, Conv2dGeometry):
    """Pixel adaptive filtering unit: one kernel of a learned group per pixel.

    A compact CNN (the selector) predicts per-pixel logits over a group of
    ``num_kernels`` kernels; a straight-through Gumbel-softmax picks exactly
    one kernel per output pixel (hard one-hot forward, soft gradient), and
    the pixel's output is that kernel's convolution response. In eval mode
    the pick is the plain argmax of the logits. :meth:`decorrelation_loss`
    is the paper's kernel-variability regulariser (eq. 3).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): As ``nn.Conv2d``: the kernels'
            support, square or ``(kh, kw)``; with ``kernel_sizes``, the
            largest of them.
        stride, dilation (int | tuple[int, int]): As ``nn.Conv2d``.
            Default: 1, 1.
        padding (int | tuple[int, int] | str): As ``nn.Conv2d``
            (``'same'``, ``'valid'`` included). Default: 0.
        groups (int): As ``nn.Conv2d``. Default: 1.
        bias (bool): A learned bias per kernel. Default: True.
        padding_mode (str): As ``nn.Conv2d``. Default: ``'zeros'``.
        num_kernels (int): Kernels in the group. Default: 8.
        tau (float): Gumbel-softmax temperature. Default: 1.0.
        selector_cfg (dict, optional): Overrides of :class:`PixelPredictor`
            arguments for the selector. Default: 1x1 conv to 32 channels,
            BN, ReLU, 3x3 conv to ``num_kernels`` logits, BN (3x3 receptive
            field; 0.18 of a 64-channel 3x3 conv's MACs, 0.008 at 512).
            The BatchNorm on the logits keeps the selector from committing
            to one kernel early in training (docs/reproductions.md).
        kernel_sizes (Sequence[int], optional): Odd square sizes to mix in
            one group (``(5, 7)``: the paper's "5x5&7x7"), split evenly over
            the group, each stored zero-padded to the largest, which is
            ``kernel_size``; ``stride``/``padding``/``dilation`` act on it,
            as for an ``nn.Conv2d`` of that size. Default: None, every
            kernel ``kernel_size``.
        warm_start_eps (float): Loading a plain conv's ``weight`` and
            ``bias`` (same shape as this layer's kernels) sets every kernel
            to the conv's, each perturbed in its own direction by at most
            this fraction of each output channel's norm, so the kernels can
            part (:func:`pafu_params_from_conv`). Default: 1e-3.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]],
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 num_kernels: int = 8,
                 tau: float = 1.0,
                 selector_cfg: Optional[dict] = None,
                 kernel_sizes: Optional[Sequence[int]] = None,
                 warm_start_eps: float = 1e-3):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, padding_mode)
        if not isinstance(num_kernels, int) or num_kernels < 1:
            raise ValueError(
                f'num_kernels must be an int >= 1, got {num_kernels!r}')
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau!r}')
        if not warm_start_eps >= 0:
            raise ValueError(
                f'warm_start_eps must be >= 0, got {warm_start_eps!r}')
        self.num_kernels = num_kernels
        self.tau = tau
        self.warm_start_eps = warm_start_eps
        self.kernel_sizes = self._check_kernel_sizes(kernel_sizes)
        size_h, size_w = self.kernel_size
        # Each kernel's support, broadcast over its (C_out, C_in / groups)
        # dims.
        support = torch.zeros(num_kernels, 1, 1, size_h, size_w)
        for n in range(num_kernels):
            border = self.kernel_border(n)
            support[n, ..., border:size_h - border, border:size_w - border] = 1
        self.register_buffer('kernel_support', support, persistent=False)
        # Channels-last: each kernel's (C_out, kh * kw * C_in) GEMM matrix
        # is then a view (ops/selected_conv_cpu.py).
        self.weight = nn.Parameter(
            torch.empty(num_kernels * out_channels, in_channels // groups,
                        size_h, size_w, memory_format=torch.channels_last))
        self.bias = nn.Parameter(torch.empty(num_kernels *
                                             out_channels)) if bias else None
        self.selector = PixelPredictor(
            in_channels, num_kernels,
            **dict(dict(mid_channels=32, norm_cfg=dict(type='BN')),
                   **(selector_cfg or {})))
        self.init_weights()

    def _check_kernel_sizes(self, kernel_sizes) -> Optional[Tuple[int, ...]]:
        """``kernel_sizes`` sorted, once it is known to fit ``kernel_size``
        and ``num_kernels``."""
        if kernel_sizes is None:
            return None
        size_h, size_w = self.kernel_size
        sizes = tuple(kernel_sizes)
        if (not sizes or any(not isinstance(s, int) or s < 1
                             or s % 2 != size_h % 2 for s in sizes)
                or size_h != size_w or max(sizes) != size_h):
            raise ValueError(
                'kernel_sizes must be square sizes of the parity of a square '
                'kernel_size, which is the largest of them, got kernel_sizes='
                f'{kernel_sizes!r} with kernel_size={self.kernel_size}')
        if self.num_kernels % len(sizes):
            raise ValueError(
                f'num_kernels={self.num_kernels} must be a multiple of the '
                f'number of kernel_sizes {sizes}')
        return tuple(sorted(sizes))

    def kernel_border(self, kernel: int) -> int:
        """The zero border around kernel ``kernel``'s support in its stored
        ``(kh, kw)`` window: the one place that says which size is kernel
        ``n`` of a mixed group (consecutive blocks of ``num_kernels /
        len(kernel_sizes)`` kernels per size, ascending, each centred).

        Args:
            kernel (int): Index in ``[0, num_kernels)``.

        Returns:
            int: ``(kernel_size - size of kernel) // 2``; 0 without
            ``kernel_sizes``.
        """
        if self.kernel_sizes is None:
            return 0
        size = self.kernel_sizes[kernel * len(self.kernel_sizes) //
                                 self.num_kernels]
        return (self.kernel_size[0] - size) // 2

    @property
    def kernels(self) -> torch.Tensor:
        """The kernel group with zero borders enforced,
        ``(n * C_out, C_in // groups, kh, kw)`` in channels-last memory (like
        :attr:`weight`: flatten it with ``reshape``); kernel ``n`` is rows
        ``n * C_out:(n + 1) * C_out``."""
        if self.kernel_sizes is None:  # no padded border to enforce
            return self.weight
        return self._per_kernel(self.weight).mul(
            self.kernel_support).view_as(self.weight)

    def _per_kernel(self, tensor: torch.Tensor) -> torch.Tensor:
        """``(n * C_out, ...)`` viewed as ``(n, C_out, ...)``."""
        return tensor.view(self.num_kernels, -1, *tensor.shape[1:])

    def init_weights(self) -> None:
        """``nn.Conv2d``'s default init, per kernel at its own support."""
        weight = self._per_kernel(self.weight.detach())
        biases = (None if self.bias is None else
                  self._per_kernel(self.bias.detach()))
        for n in range(self.num_kernels):
            fan_in = self.weight.shape[1] * int(self.kernel_support[n].sum())
            bound = fan_in**-0.5
            weight[n].uniform_(-bound, bound)
            if biases is not None:
                biases[n].uniform_(-bound, bound)
        weight.mul_(self.kernel_support)

    def _params_from_conv(self, weight: torch.Tensor,
                          bias: Optional[torch.Tensor]):
        """This layer's ``weight`` and ``bias`` for a plain conv's."""
        weight, bias = pafu_params_from_conv(weight, bias, self.num_kernels,
                                             self.kernel_support,
                                             self.warm_start_eps)
        return dict(weight=weight.contiguous(
            memory_format=torch.channels_last), bias=bias), None

    def selection_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Selector logits ``(B, num_kernels, H_out, W_out)`` of a
        ``(B, in_channels, H, W)`` input."""
        x, padding = self.pad_input(x)
        return self.selector(x, self.kernel_size, self.stride, padding,
                             self.dilation)

    def forward(self, x: torch.Tensor, return_selection: bool = False):
        """
        Args:
            x (Tensor): ``(B, in_channels, H, W)``, or unbatched
                ``(in_channels, H, W)``.
            return_selection (bool): Also return the selected kernel index
                per output pixel, from this same forward. Default: False.

        Returns:
            Tensor | tuple[Tensor, Tensor]: ``(B, out_channels, H_out,
            W_out)`` with ``nn.Conv2d``'s output size, and with
            ``return_selection`` the ``(B, H_out, W_out)`` int64 index map
            (without ``B`` for an unbatched input).
        """
        return self._forward_impl()(x, return_selection)

    def _forward_impl(self) -> Callable:
        """The one dispatch on who runs the layer: ``torch.onnx.export``
        traces standard operators (:func:`pafu_onnx_forward`, exact in eval
        mode), anything else :meth:`_selected_conv`."""
        if torch.onnx.is_in_onnx_export():
            return partial(pafu_onnx_forward, self)
        return self._selected_conv

    def _selected_conv(self, x: torch.Tensor, return_selection: bool):
        """``y_p = W_{s(p)} * x_p``: the selector's logits pick one kernel
        ``s(p)`` per output pixel ``p`` (straight-through Gumbel-softmax
        while gradients are on, else its hard pick alone). Arguments and
        returns as :meth:`forward`."""
        x, unbatched = self.batched_input(x)
        weight, bias, x = self._cast_for_compute(x)
        x, padding = self.pad_input(x)
        # One zero-padded channels-last copy for the selector's convs and the
        # selected conv (which saves it for backward, as does the selector's
        # first conv): each copy of the input costs ~0.1 of a 64-channel 3x3
        # conv. Both then see an unpadded input.
        padded = to_channels_last(x, padding)
        logits = self.selector(padded, self.kernel_size, self.stride, (0, 0),
                               self.dilation)
        conv_args = (self.stride, (0, 0), self.dilation, self.groups)
        if torch.is_grad_enabled():
            selection = straight_through_gumbel_softmax(
                logits, self.tau, dim=1, sample=self.training)
            out = selected_conv2d(padded, weight, bias, selection.to(x.dtype),
                                  *conv_args)
            index = selection.argmax(dim=1) if return_selection else None
        else:  # the same selection, without the surrogate's tensors
            index = gumbel_argmax(logits, dim=1, sample=self.training)
            out = indexed_conv2d(padded, weight, bias, index,
                                 self.num_kernels, *conv_args)
        out = out.contiguous(memory_format=memory_format_of(x))
        if unbatched:
            out, index = out[0], None if index is None else index[0]
        return (out, index) if return_selection else out

    def _cast_for_compute(self, x: torch.Tensor):
        """Kernels, bias and input in one dtype.

        That is autocast's dtype when autocast is on: the custom autograd
        function's backward runs without autocast, so its saved tensors must
        already agree.
        """
        device_type = x.device.type
        dtype = (get_autocast_dtype(device_type)
                 if is_autocast_enabled(device_type) else x.dtype)
        bias = None if self.bias is None else self.bias.to(dtype)
        return self.kernels.to(dtype), bias, x.to(dtype)

    def decorrelation_loss(self) -> torch.Tensor:
        """``||W_f W_f^T - I||_F^2`` over the normalised flattened kernels.

        Returns:
            Tensor: A float32 scalar in ``[0, n * (n - 1)]``: 0 for
            orthonormal kernels, ``n * (n - 1)`` for identical ones.
        """
        flat = F.normalize(
            self.kernels.float().reshape(self.num_kernels, -1), dim=1)
        gram = flat @ flat.t()
        eye = torch.eye(self.num_kernels, device=gram.device)
        return (gram - eye).pow(2).sum()

    def extra_repr(self) -> str:
        mixed = ('' if self.kernel_sizes is None else
                 f', kernel_sizes={self.kernel_sizes}')
        return (f'{super().extra_repr()}{mixed}, '
                f'num_kernels={self.num_kernels}, tau={self.tau}')


def pafu_decorrelation_loss(model: nn.Module) -> torch.Tensor:
    """The decorrelation loss averaged over every PAFU module of ``model``.

    Args:
        model (nn.Module): Any model containing PAFU modules.

    Returns:
        Tensor: A scalar.

    Raises:
        ValueError: If ``model`` has no PAFU module.
    """
    losses = [m.decorrelation_loss() for m in model.modules()
              if isinstance(m, PAFU)]
    if not losses:
        raise ValueError(f'{type(model).__name__} has no PAFU module')
    return torch.stack(losses).mean()
