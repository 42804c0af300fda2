# Linear PAFU super-resolution (PAFU paper, Table 2, "5x5&7x7") at x4: the
# 5x5 model with a mixed group, 8 kernels 5x5 and 8 kernels 7x7.
_base_ = ['./pafu-linear-5x5_x4_1xb16-300k_div2k.py']
model = dict(generator=dict(kernel_sizes=(5, 7)))
