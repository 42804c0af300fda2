"""A scale variant (a config named ``*_x3*`` or ``*_x4*`` beside an
``*_x2*`` one) restates its scale-dependent settings, since an mmengine
config cannot re-evaluate its base at another scale: resolved, it must equal
its x2 sibling but for the scale (upscale factor, crop borders, patch sizes,
``x2`` in folder names)."""
import re
from functools import lru_cache
from pathlib import Path

import pytest
from mmengine.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
X2_CONFIGS = sorted(CONFIGS.rglob('*_x2[_.]*py'))


@lru_cache
def resolved(path: Path) -> dict:
    return Config.fromfile(str(path)).to_dict()


def rescaled(value, scale: int, key: str):
    """An x2 config's ``value`` of ``key`` as the x``scale`` one has it if
    the value depends on the scale: the scale itself, a patch size in
    proportion, ``x2`` in a folder name."""
    if type(value) is int and (value == 2 or key == 'gt_patch_size'):
        return value // 2 * scale
    if isinstance(value, str):
        return re.sub(r'(?<=[xX])2(?!\d)', str(scale), value)
    return value


def assert_equal_but_for_the_scale(at_x2, at_scale, scale: int,
                                   where: str, key: str = ''):
    """Walk both resolved configs; ``where`` names the position in the
    message, ``key`` is the dict key the value sits under."""
    if isinstance(at_x2, dict):
        assert isinstance(at_scale, dict), where
        assert at_x2.keys() == at_scale.keys(), where
        for child_key, value in at_x2.items():
            assert_equal_but_for_the_scale(value, at_scale[child_key], scale,
                                           f'{where}.{child_key}', child_key)
    elif isinstance(at_x2, (list, tuple)):
        assert type(at_scale) is type(at_x2), where
        assert len(at_scale) == len(at_x2), where
        for index, (value, other) in enumerate(zip(at_x2, at_scale)):
            assert_equal_but_for_the_scale(value, other, scale,
                                           f'{where}[{index}]', key)
    else:
        assert at_scale in (at_x2, rescaled(at_x2, scale, key)), (
            f'{where}: {at_x2!r} at x2, {at_scale!r} at x{scale}')


def test_the_scale_variants_are_found():
    assert len(X2_CONFIGS) >= 8  # DIV2K base, 5 DIV2K nets, 2 RealSR nets


@pytest.mark.parametrize('scale', [3, 4])
@pytest.mark.parametrize('x2_config', X2_CONFIGS,
                         ids=lambda path: path.stem)
def test_scale_variant_equals_its_x2_config_but_for_the_scale(
        x2_config, scale):
    variant = x2_config.with_name(
        re.sub(r'_x2(?=[_.])', f'_x{scale}', x2_config.name))
    assert variant.exists(), variant
    assert_equal_but_for_the_scale(
        resolved(x2_config), resolved(variant), scale, where='cfg')
