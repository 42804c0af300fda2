# ESPCN (Shi et al. 2016) on RGB, the PAFU paper's "ESPCNN (ours)" of
# Table 4, at x3: SRCNN's arguments with ESPCN's kernel sizes.
_base_ = ['./_base_/sr_div2k_x3.py']
model = dict(generator=dict(type='ESPCNNet', kernel_sizes=(5, 3, 3)))
