# SAD diagnostic: the PAFU of pafu_sad.py with its kernels set to the optimal
# pair (a Dirac and a zero kernel, PAFU paper 3.2) and frozen; only the
# selector learns. Shows whether the selector can learn the routing that the
# paper's solution needs, separately from finding the kernels.
_base_ = ['./pafu_sad.py']

# Frozen kernels make the regulariser a constant (1 for a zero kernel).
model = dict(
    init_cfg=dict(type='SADOptimalPAFUKernels'), decorrelation_weight=0.0)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'network.conv.weight': dict(lr_mult=0.0),
            'network.conv.bias': dict(lr_mult=0.0)
        }))
