import pytest
import torch
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _default_scope_of_the_test_alone():
    """Drop the default scopes a test created (``init_default_scope``, an
    in-process Runner): mmengine keeps the latest one current for the whole
    process, and a later test's ``MODELS.build`` would look in its registry
    (e.g. mmseg's head built in the mmagic scope)."""
    scopes_before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - scopes_before:
        del DefaultScope._instance_dict[name]
