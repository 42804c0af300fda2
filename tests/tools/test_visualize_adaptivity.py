import mmcv
import numpy as np
import pytest
from mmengine.registry import MODELS
from mmengine.runner import save_checkpoint

import pafu_acda_mm  # noqa: F401
from pafu_acda_mm.toy import make_sad_sample


@pytest.mark.e2e
def test_writes_a_selection_map_per_pafu_and_scale_maps_per_acda(
        run_tool, data_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(data_dir))
    __import__('pafu_test_modules')  # registers AdaptiveStack
    model = MODELS.build(dict(type='AdaptiveStack'))
    save_checkpoint(dict(meta={}, state_dict=model.state_dict()),
                    str(tmp_path / 'model.pth'))
    image, _ = make_sad_sample(np.random.default_rng(0), size=33)
    mmcv.imwrite((image.transpose(1, 2, 0) * 255).astype(np.uint8),
                 str(tmp_path / 'image.png'))

    result = run_tool('tools/analysis/visualize_adaptivity.py',
                      data_dir / 'adaptive_stack.py', tmp_path / 'model.pth',
                      tmp_path / 'image.png', '--out', tmp_path / 'vis',
                      '--scale', '1/255')
    written = sorted(p.name for p in (tmp_path / 'vis').iterdir())
    assert written == ['acda.conv_acda_scales.png',
                       'pafu.conv_pafu_selection.png']
    for name in written:
        picture = mmcv.imread(str(tmp_path / 'vis' / name))
        assert picture.ndim == 3 and min(picture.shape[:2]) > 200
        assert picture.std() > 10  # drawn, not blank
    assert 'Wrote' in result.stdout + result.stderr
