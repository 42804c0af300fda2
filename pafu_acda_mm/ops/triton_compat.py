"""What differs between the Tritons that the supported torch range ships.

torch 2.1 ships triton 2.1, torch 2.4 and later triton 3: the kernels in
selected_conv_cuda.py use only what both compile, and this module holds the
things that do not: the product's precision (Triton 3 names it
``tl.dot(..., input_precision='ieee' | 'tf32')`` and takes the accumulator,
triton 2.1 names it ``allow_tf32=`` and adds the accumulator after), and
whether fp64 products compile at all.
"""
import triton
import triton.language as tl

#: ``(major, minor)`` of the installed Triton.
TRITON_VERSION = tuple(int(part) for part in triton.__version__.split('.')[:2])

#: Whether ``tl.dot`` compiles fp64 operands (triton 2.1's fails to).
FP64_PRODUCTS = TRITON_VERSION >= (3, 0)

if TRITON_VERSION >= (3, 0):

    @triton.jit
    def dot(a, b, acc, EXACT: tl.constexpr):
        """``acc + a @ b`` accumulated in ``acc``'s dtype; fp32 products
        exact (IEEE) if ``EXACT``, else in TF32 (other dtypes ignore it)."""
        if EXACT:
            acc = tl.dot(a, b, acc, input_precision='ieee',
                         out_dtype=acc.dtype)
        else:
            acc = tl.dot(a, b, acc, input_precision='tf32',
                         out_dtype=acc.dtype)
        return acc
else:

    @triton.jit
    def dot(a, b, acc, EXACT: tl.constexpr):
        """``acc + a @ b`` accumulated in ``acc``'s dtype; fp32 products
        exact (IEEE) if ``EXACT``, else in TF32 (other dtypes ignore it)."""
        if EXACT:
            acc += tl.dot(a, b, allow_tf32=False, out_dtype=acc.dtype)
        else:
            acc += tl.dot(a, b, allow_tf32=True, out_dtype=acc.dtype)
        return acc
