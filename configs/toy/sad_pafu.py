# SAD, PAFU (PAFU paper 3.2-3.5): one PAFU layer with two 5x5 kernels and the
# layer's default selector (3x3 conv -> 32 -> ReLU -> 3x3 conv -> 2 logits),
# 1.9K parameters; L1 plus the decorrelation loss (eq. 4, weight 1).
# Straight-through Gumbel-softmax with tau 5: tau does not change the sampled
# (forward) selection, only the surrogate gradient, which saturates at tau 1.
# Adam lr 1e-2 for this one layer; the 35K-parameter CNNs use 1e-3 (with
# 1e-2 the FCNN stays at MAE 0.29).
_base_ = ['./_base_/sad.py']

model = dict(
    type='PAFUDenseRegressor',
    network=dict(
        type='SingleLayer',
        conv_cfg=dict(type='PAFU', num_kernels=2, tau=5.0),
        kernel_size=5),
    loss='l1',
    decorrelation_weight=1.0)
optim_wrapper = dict(optimizer=dict(lr=1e-2))
