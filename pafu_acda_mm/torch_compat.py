"""What differs between the supported torch releases, 2.1 to 2.13.

Every helper has the newest torch's meaning and calls it there unchanged; on
older releases it maps to what they offer. The rest of the package calls these
helpers instead of testing for torch features itself.
"""
import _compat_pickle
import codecs
import collections
import inspect
import pickle
import re
import types
import warnings
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

import torch

TORCH_VERSION: Tuple[int, int] = tuple(
    int(part)
    for part in re.match(r'(\d+)\.(\d+)', torch.__version__).groups())

# A safe global: an object, or ``(object, pickle name)`` for one stored
# under another name (``torch.serialization.add_safe_globals``' forms).
SafeGlobal = Union[object, Tuple[object, str]]

if TORCH_VERSION >= (2, 4):

    def is_autocast_enabled(device_type: str) -> bool:
        """Whether autocast is on for ``device_type`` (``'cpu'``,
        ``'cuda'``, ...)."""
        return torch.is_autocast_enabled(device_type)

    def get_autocast_dtype(device_type: str) -> torch.dtype:
        """Autocast's compute dtype for ``device_type``."""
        return torch.get_autocast_dtype(device_type)

else:  # per-device functions; the plain ones mean CUDA

    def is_autocast_enabled(device_type: str) -> bool:
        """Whether autocast is on for ``device_type`` (``'cpu'``,
        ``'cuda'``, ...)."""
        if device_type == 'cuda':
            return torch.is_autocast_enabled()
        return getattr(torch, f'is_autocast_{device_type}_enabled')()

    def get_autocast_dtype(device_type: str) -> torch.dtype:
        """Autocast's compute dtype for ``device_type``."""
        name = 'gpu' if device_type == 'cuda' else device_type
        return getattr(torch, f'get_autocast_{name}_dtype')()


if TORCH_VERSION >= (2, 3):
    is_compiling: Callable[[], bool] = torch.compiler.is_compiling
else:
    import torch._dynamo
    is_compiling = torch._dynamo.is_compiling


def library_op(qualname: str,
               implementation: Callable,
               fake: Callable,
               backward: Optional[Callable] = None,
               setup_context: Optional[Callable] = None) -> Callable:
    """``implementation`` as the torch op ``qualname``
    (``torch.library.custom_op``, no argument mutated), so that compiled
    models keep it in their graph and ``torch.export`` shows it as one op.

    Before torch 2.4 (no ``custom_op``) it stays a Python function, run
    eagerly in compiled models (a graph break), differentiable through an
    autograd function named like the op.

    Args:
        qualname (str): ``'namespace::name'``.
        implementation (Callable): The op's function, annotated with types
            (they make its schema).
        fake (Callable): Outputs of the right shapes, dtypes and strides from
            the same arguments, without computing (``register_fake``).
        backward, setup_context (Callable, optional): The op's gradient, as
            ``register_autograd`` takes them. Default: None, not
            differentiable.

    Returns:
        Callable: The op.
    """
    if TORCH_VERSION >= (2, 4):
        op = torch.library.custom_op(qualname, implementation,
                                     mutates_args=())
        op.register_fake(fake)
        if backward is not None:
            op.register_autograd(backward, setup_context=setup_context)
        return op
    if backward is None:
        return torch.compiler.disable(implementation)

    def forward(ctx, *inputs):
        output = implementation(*inputs)
        setup_context(ctx, inputs, output)
        return output

    function = type(qualname.split('::')[-1], (torch.autograd.Function, ),
                    dict(forward=staticmethod(forward),
                         backward=staticmethod(backward)))
    return torch.compiler.disable(function.apply)


# Globals allowed in weights-only loads beyond torch's own, on releases before
# 2.6 (add_safe_globals is 2.4+, its ``(object, name)`` form 2.6+): first what
# torch 2.6+ allows by default and 2.1 does not (protocol-2 pickles, torch's,
# store bytes such as numpy arrays' data through _codecs.encode).
_extra_safe_globals: Dict[str, object] = {
    '_codecs.encode': codecs.encode,
    'builtins.bytearray': bytearray,
    'builtins.complex': complex,
    'builtins.set': set,
    'collections.Counter': collections.Counter,
    'torch.device': torch.device,
    **{
        f'torch.{name}': value
        for name, value in vars(torch).items()
        if isinstance(value, torch.dtype)
    },
}


def add_safe_globals(safe_globals: Iterable[SafeGlobal]) -> None:
    """Allow ``safe_globals`` in every :func:`load_weights_only`, process-wide
    (on torch >= 2.6 also in a plain ``torch.load(weights_only=True)``).

    Args:
        safe_globals (Iterable): Objects, or ``(object, pickle name)`` pairs.
    """
    safe_globals = list(safe_globals)
    if TORCH_VERSION >= (2, 6):
        torch.serialization.add_safe_globals(safe_globals)
        return
    for item in safe_globals:
        obj, name = item if isinstance(item, tuple) else (
            item, f'{item.__module__}.{item.__qualname__}')
        _extra_safe_globals[name] = obj


# A version difference: torch < 2.6 only (2.6+ extends its own weights-only
# unpickler through add_safe_globals, so this private import runs nowhere else).
class _RestrictedUnpickler(pickle.Unpickler):
    """The unpickler of weights-only loads on torch < 2.6, with the extra
    globals: ``find_class`` is the only way a pickle reaches an object, so a
    checkpoint can build and call only what is allowed (the "restricting
    globals" recipe of the ``pickle`` docs). torch 2.1's own weights-only
    unpickler cannot be extended: it builds no objects but tensors and
    dicts, and mmengine checkpoints hold the message hub's buffers."""

    def find_class(self, module: str, name: str):
        from torch._weights_only_unpickler import _get_allowed_globals

        # Protocol 2 names Python 2's modules (__builtin__.getattr), as
        # pickle's own find_class maps them.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name),
                                                       (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full_name = f'{module}.{name}'
        allowed = _get_allowed_globals()
        if full_name in allowed:
            return allowed[full_name]
        if full_name in _extra_safe_globals:
            return _extra_safe_globals[full_name]
        raise pickle.UnpicklingError(
            f'Weights only load failed: unsupported global {full_name}; '
            'only tensors, containers and allow-listed globals load')


_restricted_pickle = types.ModuleType('pafu_acda_mm_restricted_pickle')
_restricted_pickle.Unpickler = _RestrictedUnpickler
_restricted_pickle.load = lambda file, **kwargs: _RestrictedUnpickler(
    file, **kwargs).load()


def load_weights_only(f, map_location=None):
    """``torch.load(f, map_location, weights_only=True)`` on every release.

    torch < 2.6 loads with ``weights_only=False`` by default, which runs any
    code a checkpoint names; this refuses every global that is neither
    torch's weights-only set nor added by :func:`add_safe_globals`.

    Args:
        f (str | PathLike | file-like): The checkpoint.
        map_location: As ``torch.load``.

    Returns:
        The loaded object.

    Raises:
        pickle.UnpicklingError: Naming the first refused global.
    """
    if TORCH_VERSION >= (2, 6):
        return torch.load(f, map_location=map_location, weights_only=True)
    return torch.load(f, map_location=map_location, weights_only=False,
                      pickle_module=_restricted_pickle)


def onnx_export(model: torch.nn.Module, args: tuple, f, **kwargs) -> None:
    """``torch.onnx.export`` through the TorchScript exporter on every
    release.

    From torch 2.9 on, ``torch.onnx.export`` defaults to its
    ``torch.export``-based exporter (``dynamo=True``: it needs onnxscript and
    takes ``dynamic_shapes`` instead of ``dynamic_axes``); releases before
    2.5 have only the TorchScript exporter and no ``dynamo`` argument. Its
    deprecation warning on new releases is silenced: the choice is made.

    Args:
        model (nn.Module): The model, as ``torch.onnx.export`` takes it.
        args (tuple): Its example inputs.
        f (str | PathLike | file-like): Where to write the ONNX file.
        **kwargs: Further ``torch.onnx.export`` arguments of the TorchScript
            exporter (``opset_version``, ``dynamic_axes``, ...).
    """
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', 'You are using the legacy TorchScript-based ONNX export',
            DeprecationWarning)
        torch.onnx.export(model, args, f, **kwargs)
