"""What importing the plugin changes in mmengine and torch, seen from a fresh
interpreter: the state each change touches, before and after the import."""
import json
import os
import subprocess
import sys

import pytest

from pafu_acda_mm.engine import RUNTIME_CHANGES, runtime_change_enabled

# Prints which parts of the global state the import changed, by name.
CHANGED_BY_IMPORT = '''
import json
import sys

import mmcv.cnn  # noqa: F401  upstream registrations happen before
import torch
from mmengine.fileio import FileClient
from mmengine.fileio.backends import registry_utils
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS
from mmengine.runner import CheckpointLoader


def state():
    safe_globals = getattr(torch.serialization, 'get_safe_globals', list)()
    # torch < 2.6 keeps the plugin's allow-list in torch_compat.
    compat = sys.modules.get('pafu_acda_mm.torch_compat')
    extra = getattr(compat, '_extra_safe_globals', {})
    return dict(
        file_backends={k: repr(v) for k, v in registry_utils.backends.items()},
        file_backend_prefixes={
            k: repr(v) for k, v in registry_utils.prefix_to_backends.items()},
        file_client_backends={
            k: repr(v) for k, v in FileClient._backends.items()},
        checkpoint_loaders={
            k: f'{v.__module__}.{v.__qualname__}'
            for k, v in CheckpointLoader._schemes.items()},
        safe_globals=sorted(map(repr, safe_globals)) + sorted(
            name for name in extra if name.startswith(('mmengine', 'numpy'))),
        checkpoint_hook={k: repr(v) for k, v in vars(CheckpointHook).items()},
        torch_load=repr(torch.load),
        hook_registry=sorted(HOOKS.module_dict))


before = state()
for module in sys.argv[1:]:
    __import__(module)
after = state()
print(json.dumps(sorted(key for key in before if before[key] != after[key])))
'''
LOG = 'pafu_acda_mm changed mmengine for this process'
FILE_WRITES = ['file_backend_prefixes', 'file_backends', 'file_client_backends']
WEIGHTS_ONLY_LOAD = ['checkpoint_loaders', 'safe_globals']


def _changed_by_import(*modules, **switches):
    """The state names that importing ``modules`` changed, and its stdout."""
    result = subprocess.run(
        [sys.executable, '-c', CHANGED_BY_IMPORT, *modules],
        capture_output=True,
        text=True,
        env=dict(os.environ, **switches))
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1])), result


def test_importing_the_layers_changes_nothing_global():
    changed, result = _changed_by_import('pafu_acda_mm.layers')
    assert changed == set()
    assert LOG not in result.stdout + result.stderr


def test_importing_the_engine_applies_each_change_and_logs_once():
    # The toy integration and a config's codebase import it again.
    changed, result = _changed_by_import('pafu_acda_mm.engine',
                                         'pafu_acda_mm.toy')
    # Registering the plugin's hooks adds names; CheckpointHook is intact.
    assert changed == {*FILE_WRITES, *WEIGHTS_ONLY_LOAD, 'hook_registry'}
    assert (result.stdout + result.stderr).count(LOG) == 1
    for change in RUNTIME_CHANGES:
        assert f'{change.variable}=0 turns it off' in result.stdout


def test_each_change_can_be_turned_off():
    changed, result = _changed_by_import(
        'pafu_acda_mm.engine',
        **{change.variable: '0' for change in RUNTIME_CHANGES})
    assert changed == {'hook_registry'}
    assert LOG not in result.stdout + result.stderr


def test_switch_with_another_value_is_refused(monkeypatch):
    monkeypatch.setenv('PAFU_ACDA_MM_ATOMIC_WRITES', 'off')
    with pytest.raises(ValueError,
                       match=r"PAFU_ACDA_MM_ATOMIC_WRITES='off': expected 0"):
        runtime_change_enabled('PAFU_ACDA_MM_ATOMIC_WRITES')
