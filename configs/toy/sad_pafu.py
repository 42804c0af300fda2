# SAD, PAFU (PAFU paper 3.2-3.5): one PAFU layer with two 5x5 kernels, each
# pixel picks one with a straight-through Gumbel-softmax (tau 1); L1 plus the
# decorrelation loss (eq. 4, weight 1). The layer's default selector (3x3
# conv -> 32 -> ReLU -> 3x3 conv -> 2 logits): 1.9K parameters in all.
_base_ = ['./_base_/sad.py']

model = dict(
    type='PAFUDenseRegressor',
    network=dict(
        type='SingleLayer',
        conv_cfg=dict(type='PAFU', num_kernels=2, tau=1.0),
        kernel_size=5),
    loss='l1',
    decorrelation_weight=1.0)
