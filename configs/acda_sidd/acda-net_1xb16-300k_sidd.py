# ACDA real-world denoising (ACDA paper, section 4.3, Table 5 "ACDA + MSE"):
# the RealSR network at scale 1 on SIDD.
_base_ = ['../acda_realsr/_base_/acda-net_1xb16-300k.py', './_base_/sidd.py']
