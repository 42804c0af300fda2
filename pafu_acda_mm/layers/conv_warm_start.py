"""A plain convolution's parameters as PAFU's or ACDA's: the adaptive layer
that replaces a pretrained conv starts as that conv (docs/layers.md,
"Starting from a plain conv").

Pure functions of tensors; the layers call them when they load a plain
conv's ``weight`` and ``bias`` (:mod:`.plain_conv_loading`).
"""
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

#: Seed of the fixed generator of PAFU's perturbation directions: the same
#: checkpoint always converts to the same kernels. Not 0, the seed tests and
#: scripts give torch's own generator, whose draws a conv may then hold.
PERTURBATION_SEED = 2019


def _check_conv_bias(conv_weight: torch.Tensor,
                     conv_bias: Optional[torch.Tensor]) -> None:
    if conv_weight.dim() != 4:
        raise ValueError('conv_weight must be (C_out, C_in // groups, kh, '
                         f'kw), got shape {tuple(conv_weight.shape)}')
    if conv_bias is not None and conv_bias.shape != conv_weight.shape[:1]:
        raise ValueError(f'conv_bias must be ({conv_weight.shape[0]},), got '
                         f'shape {tuple(conv_bias.shape)}')


def _perturbation_directions(rows: torch.Tensor,
                             support: torch.Tensor) -> torch.Tensor:
    """Unit directions, per kernel and output channel, orthogonal to the
    conv's row and to each other where there is room.

    Gram-Schmidt of fixed Gaussian noise against the normalised rows and the
    previous kernels' directions, kernel by kernel, each masked to its
    kernel's support (smaller supports first, so every earlier direction
    lies inside the current support). Where a row has no room left (fewer
    taps than kernels + 1, e.g. a 1x1 conv of few channels), its direction is
    the normalised masked noise, which differs between kernels but is not
    orthogonal.

    Args:
        rows (Tensor): The conv's rows ``(C_out, d)``, float64.
        support (Tensor): ``(n, 1, d)``, 1 where kernel ``n`` has a tap.

    Returns:
        Tensor: ``(n, C_out, d)``, every row of unit norm, zero outside its
        kernel's support.
    """
    generator = torch.Generator().manual_seed(PERTURBATION_SEED)
    noise = torch.randn((support.shape[0], ) + rows.shape,
                        generator=generator, dtype=rows.dtype) * support
    basis = [F.normalize(rows, dim=1)]
    directions = []
    for kernel_noise in noise:
        residue = kernel_noise
        for vector in basis:
            residue = residue - (residue * vector).sum(
                1, keepdim=True) * vector
        norm = residue.norm(dim=1, keepdim=True)
        # Relative to the noise: what is left once the room is used up is
        # rounding.
        has_room = norm > 1e-6 * kernel_noise.norm(dim=1, keepdim=True)
        orthogonal = residue / norm.clamp_min(1e-300)
        directions.append(
            torch.where(has_room, orthogonal,
                        F.normalize(kernel_noise, dim=1)))
        basis.append(torch.where(has_room, orthogonal, 0.))
    return torch.stack(directions)


def pafu_params_from_conv(
        conv_weight: torch.Tensor,
        conv_bias: Optional[torch.Tensor],
        num_kernels: int,
        kernel_support: Optional[torch.Tensor] = None,
        eps: float = 1e-3) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """PAFU kernels that all start as the conv's kernel, perturbed apart.

    Kernel ``n``'s output channel ``o`` is ``W_o + eps ||W_o|| u_no``, with
    ``u_no`` of unit norm, inside kernel ``n``'s support, orthogonal to
    ``W_o`` and to ``u_mo`` (``m != n``) when the kernel has more than
    ``num_kernels`` taps per output channel; every bias is the conv's. So at
    every output pixel, whatever the selection, PAFU's output differs from
    the conv's by at most ``eps ||W_o|| ||x_window||`` (Cauchy-Schwarz;
    ``x_window``: the input taps of that pixel's window, within its group).
    With one kernel there is nothing to break apart: it is the conv's.

    Args:
        conv_weight (Tensor): ``(C_out, C_in // groups, kh, kw)``.
        conv_bias (Tensor, optional): ``(C_out,)``.
        num_kernels (int): Kernels ``n`` in the group.
        kernel_support (Tensor, optional): ``(n, 1, 1, kh, kw)``, 1 at the
            taps of each kernel (``PAFU.kernel_support``, mixed sizes).
            Default: None, every tap.
        eps (float): Relative size of the perturbation, >= 0.
            Default: 1e-3.

    Returns:
        tuple[Tensor, Tensor | None]: PAFU's ``weight``
        ``(n * C_out, C_in // groups, kh, kw)`` (kernel ``n`` is rows
        ``n * C_out:(n + 1) * C_out``) and ``bias`` ``(n * C_out,)`` (None
        without ``conv_bias``), in ``conv_weight``'s dtype.

    Raises:
        ValueError: If ``conv_weight`` has non-zero taps outside a smaller
            kernel's support (that kernel cannot be the conv).
    """
    _check_conv_bias(conv_weight, conv_bias)
    if not eps >= 0:
        raise ValueError(f'eps must be >= 0, got {eps!r}')
    out_channels = conv_weight.shape[0]
    rows = conv_weight.double().reshape(out_channels, -1)
    if kernel_support is None:
        kernel_support = torch.ones(num_kernels, 1, 1, *conv_weight.shape[2:])
    support = kernel_support.double().expand(num_kernels, 1,
                                             *conv_weight.shape[1:]).reshape(
                                                 num_kernels, 1, -1)
    cut = (rows * (1 - support)).ne(0).flatten(1).any(dim=1)
    if bool(cut.any()):
        sizes = sorted({
            int(kernel_support[n].sum(dim=-1).amax())
            for n in cut.nonzero().flatten().tolist()
        })
        raise ValueError(
            f'the conv has non-zero taps outside the kernels of size {sizes}: '
            'those kernels cannot start as the conv')
    kernels = rows.expand(num_kernels, -1, -1)
    if num_kernels > 1 and eps > 0:
        kernels = kernels + eps * rows.norm(dim=1, keepdim=True) * (
            _perturbation_directions(rows, support))
    weight = kernels.reshape(num_kernels * out_channels,
                             *conv_weight.shape[1:]).to(conv_weight.dtype)
    bias = None if conv_bias is None else conv_bias.repeat(num_kernels)
    return weight, bias


class ACDAParams(NamedTuple):
    """An ACDA's parameters that compute a conv's best approximation.

    Attributes:
        weight (Tensor): The coefficient conv ``A``,
            ``(C_out, C_in // groups * m, 1, 1)``.
        bias (Tensor | None): ``(C_out,)``.
        coefficients (Tensor): Static atom coefficients ``alpha``, the atom
            generator's output at every pixel, ``(m * B,)`` (channel
            ``a * B + k`` weighs basis ``k`` in atom ``a``), each in
            ``[-max_coefficient, max_coefficient]``.
        kernel (Tensor): The conv ACDA then computes,
            ``(C_out, C_in // groups, k, k)``.
        relative_residual (float): ``||kernel - W||_F / ||W||_F`` (0 for a
            zero ``W``).
    """
    weight: torch.Tensor
    bias: Optional[torch.Tensor]
    coefficients: torch.Tensor
    kernel: torch.Tensor
    relative_residual: float


def acda_params_from_conv(conv_weight: torch.Tensor,
                          conv_bias: Optional[torch.Tensor],
                          bases: Sequence[torch.Tensor],
                          num_atoms: int,
                          max_coefficient: float = 0.5) -> ACDAParams:
    """Static atoms and coefficient conv with which ACDA is the conv's best
    least-squares approximation.

    With static atoms ``D_a = sum_k alpha_ak psi_k``, ACDA is the conv whose
    kernel slice ``(o, c)`` is ``sum_a A[o, c, a] D_a``: ``m`` atoms in the
    span of the bases. The closest such kernel (Frobenius norm) projects
    every slice of ``W`` onto that span and keeps the projections' best
    rank-``m`` approximation (their SVD): atoms are the leading right
    singular vectors, ``A`` the slices' coordinates on them. Exact when the
    slices lie in the span and have rank <= ``m`` (every 1x1 conv). Atoms
    beyond the rank get further singular directions (repeated if the span
    is exhausted) with zero ``A``, so each still receives a gradient. Each
    atom is scaled to ``max_coefficient`` (room for the generator's Tanh),
    its ``A`` column by the inverse.

    Args:
        conv_weight (Tensor): ``(C_out, C_in // groups, k, k)``.
        conv_bias (Tensor, optional): ``(C_out,)``.
        bases (Sequence[Tensor]): The layer's bases per scale,
            ``(m', l_s, l_s)``, odd ``l_s``, the largest ``k``, all centred
            on the same tap (``ACDA.fb_bases``); ``B`` in all.
        num_atoms (int): Atoms ``m``.
        max_coefficient (float): Largest ``|alpha|`` of each atom, in
            ``(0, 1)``. Default: 0.5.

    Returns:
        ACDAParams: in ``conv_weight``'s dtype.
    """
    _check_conv_bias(conv_weight, conv_bias)
    size = max(scale.shape[-1] for scale in bases)
    if conv_weight.shape[2:] != (size, size):
        raise ValueError(f'conv_weight {tuple(conv_weight.shape)} is not '
                         f'{size}x{size}, the bases\' size')
    if not 0 < max_coefficient < 1:
        raise ValueError(
            f'max_coefficient must be in (0, 1), got {max_coefficient!r}')
    out_channels, group_channels = conv_weight.shape[:2]
    slices = conv_weight.double().reshape(out_channels * group_channels, -1)
    flat_bases = torch.cat([
        F.pad(scale.double(), [(size - scale.shape[-1]) // 2]
                                * 4).flatten(1) for scale in bases
    ])  # (B, k * k)
    # Orthonormal rows spanning the bases (they need not be independent).
    _, singular, span_vh = torch.linalg.svd(flat_bases, full_matrices=False)
    span = span_vh[singular > singular[0] * 1e-10]  # (r, k * k)
    coordinates = slices @ span.t()  # (M, r)
    _, _, atom_vh = torch.linalg.svd(coordinates, full_matrices=True)
    rank = span.shape[0]
    used = min(num_atoms, rank)
    atom_directions = atom_vh[torch.arange(num_atoms) % rank]  # (m, r)
    mixing = coordinates @ atom_directions.t()  # (M, m)
    mixing[:, used:] = 0
    atoms = atom_directions @ span  # (m, k * k)
    # alpha with alpha @ bases = atoms: exact, the atoms are in the span.
    alpha = torch.linalg.lstsq(flat_bases.t(), atoms.t()).solution.t()
    scale = max_coefficient / alpha.abs().amax(dim=1)
    alpha = alpha * scale[:, None]
    mixing = mixing / scale
    kernel = mixing @ (alpha @ flat_bases)
    norm = slices.norm()
    residual = float((kernel - slices).norm() / norm) if norm > 0 else 0.
    dtype = conv_weight.dtype
    return ACDAParams(
        weight=mixing.reshape(out_channels, group_channels * num_atoms, 1,
                              1).to(dtype),
        bias=conv_bias,
        coefficients=alpha.flatten().to(dtype),
        kernel=kernel.reshape(conv_weight.shape).to(dtype),
        relative_residual=residual)
