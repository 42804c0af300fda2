import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmengine.runner.checkpoint import _load_checkpoint

# Importing the engine installs the allow-list and the loader.
from pafu_acda_mm.engine import mmengine_checkpoint_globals


def _mmengine_like_checkpoint(path):
    """What ``Runner.save_checkpoint`` writes, with a real message hub."""
    hub = MessageHub('safe_globals_test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float32(0.25), count=2)
    hub.update_info('eta', np.float64(12.5))
    hub.update_info('iter', 3)
    torch.save(
        dict(meta=dict(iter=3, cfg='model = dict()', seed=0),
             state_dict={'conv.weight': torch.ones(2, 2)},
             message_hub=hub.state_dict()), path)


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    """Through mmengine's loader, as ``resume`` and ``load_from`` load."""
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    checkpoint = _load_checkpoint(str(path), 'cpu')
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.75 / 3)
    eta = checkpoint['message_hub']['runtime_info']['eta']
    assert isinstance(eta, np.float64) and eta == 12.5


def test_what_torch_2_6_loads_weights_only_loads_on_every_torch(tmp_path):
    """mmagic's checkpoints hold a Counter; torch 2.1's weights-only set has
    none of these, torch >= 2.6's has them all."""
    from collections import Counter
    data = dict(counter=Counter(a=2), ids={1, 2}, raw=bytearray(b'xy'),
                value=1 + 2j, device=torch.device('cpu'),
                dtypes=[torch.bfloat16, torch.bool, torch.uint8])
    path = tmp_path / 'ckpt.pth'
    torch.save(data, path)
    assert _load_checkpoint(str(path), 'cpu') == data


class _Payload:
    pass


def test_checkpoint_with_another_global_is_refused(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {}, 'extra': _Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match='_Payload') as refusal:
        _load_checkpoint(str(path), 'cpu')
    # The error names the file and says how to load it.
    assert str(path) in str(refusal.value)
    assert 'PAFU_ACDA_MM_WEIGHTS_ONLY_LOAD=0' in str(refusal.value)


def _record_load(marker: str) -> None:
    Path(marker).touch()


class _RunsOnLoad:
    """Unpickles as ``_record_load(marker)``: code a checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return _record_load, (self.marker, )


def test_checkpoint_code_never_runs_on_any_torch(tmp_path):
    """torch < 2.6 loads unsafely by default; the plugin's loader does not."""
    path, marker = tmp_path / 'ckpt.pth', tmp_path / 'ran'
    torch.save({'state_dict': {}, 'meta': _RunsOnLoad(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match='_record_load'):
        _load_checkpoint(str(path), 'cpu')
    assert not marker.exists()


class _GetattrOther:
    """Pickles as ``getattr(HistoryBuffer, 'update')``: a method that is not
    a statistic."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, 'update')


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save({'method': _GetattrOther()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refused getattr"):
        _load_checkpoint(str(path), 'cpu')


def test_allow_list_names_only_mmengine_and_numpy_globals():
    names = {
        item[1] if isinstance(item, tuple) else
        f'{item.__module__}.{item.__qualname__}'
        for item in mmengine_checkpoint_globals()
    }
    assert all(name.startswith(('numpy.', 'mmengine.logging.'))
               or name == 'builtins.getattr' for name in names), names


def test_config_custom_imports_install_the_allow_list(tmp_path):
    """Upstream tools (mmseg's, mmpretrain's train.py) import the plugin only
    through the config's custom_imports; that must suffice."""
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    code = ('from mmengine.config import Config; '
            'from mmengine.runner.checkpoint import _load_checkpoint; '
            "Config.fromfile('configs/pafu_sad/pafu_sad.py'); "
            f"print(type(_load_checkpoint({str(path)!r})['message_hub']"
            "['log_scalars']['train/loss']).__name__)")
    result = subprocess.run([sys.executable, '-c', code],
                            cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('HistoryBuffer')
