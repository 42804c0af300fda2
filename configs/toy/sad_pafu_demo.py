# PAFU on SAD through tools/train.py: the small config the tools' tests train.
_base_ = ['./sad_pafu.py']
