# SAD, PAFU (PAFU paper 3.2-3.5): one PAFU layer with two 5x5 kernels; its
# selector is 3x3 conv -> 32 -> ReLU -> 3x3 conv -> 2 logits with BatchNorm
# after each conv (2.0K parameters): the layer's default widened to a 3x3
# first conv, as the task needs a 5x5 receptive field. L1 plus the
# decorrelation loss (eq. 4, weight 1), kernels and selector trained jointly
# from the default initialisation.
# BatchNorm on the logits is what lets joint training find the paper's pair
# (a Dirac and a near-zero kernel): without it, Adam raises every logit of
# whichever random kernel is less bad within ~50 iterations, the softmax
# surrogate saturates and the selector freezes with the other kernel never
# selected. Standardised logits can only prefer a kernel where the content
# differs. The decorrelation loss is needed as well: without it both kernels
# become the Dirac.
# Straight-through Gumbel-softmax with tau 5: tau does not change the sampled
# (forward) selection, only the surrogate gradient.
# Adam lr 1e-2 for this one layer; the 35K-parameter CNNs use 1e-3 (with
# 1e-2 the FCNN stays at MAE 0.29). pafu-paper-budget_sad.py widens the
# selector to the comparison's 35K parameters.
_base_ = ['./_base_/sad.py']

model = dict(
    type='PAFUDenseRegressor',
    network=dict(
        type='SingleLayer',
        conv_cfg=dict(
            type='PAFU',
            num_kernels=2,
            tau=5.0,
            selector_cfg=dict(
                reduce_kernel_size=3, norm_cfg=dict(type='BN'))),
        kernel_size=5),
    loss='l1',
    decorrelation_weight=1.0)
optim_wrapper = dict(optimizer=dict(lr=1e-2))
