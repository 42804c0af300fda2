# A small model with a PAFU and an ACDA (tests/tools/data/pafu_test_modules.py
# must be importable), for the analysis tools.
custom_imports = dict(
    imports=['pafu_acda_mm', 'pafu_test_modules'], allow_failed_imports=False)
model = dict(type='AdaptiveStack')
