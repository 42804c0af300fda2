"""Export a model to ONNX and check the file in onnxruntime.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT OUT.onnx \
        [--shape H [W]] [--static] [--in-channels C] [--tolerance T]

Builds the model of CONFIG in eval mode, loads CHECKPOINT and exports the
network as mmdeploy exports its codebase: input ``input``, the data
preprocessor's output ``(B, C, H, W)`` (normalised, as mmdeploy's
preprocessing feeds it); output ``output``:

- mmpretrain classifiers: the class logits ``(B, num_classes)`` (mmdeploy
  exports their softmax);
- mmseg segmentors: the logits resized to the input, ``(B, num_classes, H,
  W)`` (mmdeploy's ``with_argmax=False``);
- mmagic editors and the toy regressors: the network's output image.

Standard ONNX operators only (opset 17 by default), with dynamic batch,
height and width; ``--static`` fixes the height and width, for networks
whose operators need them (PSPNet's adaptive pooling, which mmdeploy
exports statically too). PAFU and ACDA export as their eval-mode forward
(``pafu_acda_mm/layers/onnx_export.py``), the single-kernel PAFUs of a
``tools/deploy/convert.py`` checkpoint as the plain convs they are. Then
runs the file in onnxruntime on the CPU on a seeded random batch of two
(the export traced one) and prints the largest difference to PyTorch; exits
with an error when it exceeds ``--tolerance`` times the output's largest
magnitude. PyTorch's PAFUs select what the file's selected, which may differ
only where two logits tie within rounding
(``pafu_acda_mm/engine/onnxruntime_check.py``).
"""
import argparse
import sys
import warnings

import onnx
import torch
import torch.nn as nn
from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import load_checkpoint

from pafu_acda_mm.engine import build_model_from_config
from pafu_acda_mm.engine.onnxruntime_check import compare_with_onnxruntime
from pafu_acda_mm.torch_compat import onnx_export

# ONNX's default operator set (an empty domain is its other name).
STANDARD_DOMAINS = ('', 'ai.onnx')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export a model to ONNX and check it in onnxruntime')
    parser.add_argument('config', help='model config file path')
    parser.add_argument('checkpoint', help='checkpoint to export')
    parser.add_argument('out', help='ONNX file to write (.onnx)')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[224, 224],
        help='input height and width of the sample input (one value: '
        'square); the file takes any size the network does')
    parser.add_argument(
        '--in-channels', type=int,
        help='input channels (default: the data preprocessor\'s mean, else '
        'the first layer\'s in_channels)')
    parser.add_argument(
        '--static', action='store_true',
        help='fix the height and width to --shape (the batch stays '
        'dynamic), for networks whose operators need a known input size, '
        'e.g. the adaptive pooling of PSPNet (mmdeploy exports those '
        'statically too)')
    parser.add_argument(
        '--opset', type=int, default=17, help='ONNX opset version (>= 17)')
    parser.add_argument(
        '--tolerance', type=float, default=1e-4,
        help='largest difference to PyTorch accepted, relative to the '
        'output\'s largest magnitude')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    args = parser.parse_args()
    if not args.out.endswith('.onnx'):
        parser.error(f'OUT must end with .onnx, got {args.out!r}')
    if len(args.shape) not in (1, 2) or min(args.shape) < 1:
        parser.error('--shape takes one or two positive ints, got '
                     f'{args.shape}')
    if args.opset < 17:
        parser.error(f'--opset must be >= 17, got {args.opset}')
    if not args.tolerance >= 0:
        parser.error(f'--tolerance must be >= 0, got {args.tolerance}')
    if args.in_channels is not None and args.in_channels < 1:
        parser.error(f'--in-channels must be >= 1, got {args.in_channels}')
    return args


def _is_segmentor(model: nn.Module) -> bool:
    """Whether ``model`` is an mmseg segmentor (never imports mmseg)."""
    segmentors = sys.modules.get('mmseg.models.segmentors')
    return segmentors is not None and isinstance(model,
                                                 segmentors.BaseSegmentor)


class DeployedNetwork(nn.Module):
    """The tensor mmdeploy exports from an OpenMMLab model (see the module
    docstring), from one input tensor ``(B, C, H, W)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.is_segmentor = _is_segmentor(model)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.is_segmentor:
            # A traced torch.Size: the logits follow the input's size.
            return self.model.encode_decode(
                inputs, [dict(img_shape=inputs.shape[2:])])
        return self.model(inputs, None, mode='tensor')


def input_channels(model: nn.Module) -> int:
    """The channels of the model's input: its data preprocessor's mean's,
    else the first module's ``in_channels``."""
    mean = getattr(model.data_preprocessor, 'mean', None)
    if isinstance(mean, torch.Tensor):
        return mean.numel()
    for module in model.modules():
        if isinstance(getattr(module, 'in_channels', None), int):
            return module.in_channels
    raise ValueError(f'{type(model).__name__} has no data preprocessor mean '
                     'and no module with in_channels: give --in-channels')


def export(network: nn.Module, sample: torch.Tensor, path: str, opset: int,
           static: bool) -> None:
    """Write ``network`` traced on ``sample`` to ``path``, the batch dynamic
    and, unless ``static``, the height and width; check that the file is
    valid ONNX of the standard operator set.

    Raises:
        RuntimeError: If an operator cannot export (with the hint to try
            ``--static``), or the file holds a non-standard operator.
    """
    input_axes, output_axes = {0: 'batch'}, {0: 'batch'}
    if not static:
        input_axes.update({2: 'height', 3: 'width'})
        with torch.no_grad():
            if network(sample).dim() == 4:
                # An output image's size follows the input's (scaled: SR).
                output_axes.update({2: 'output_height', 3: 'output_width'})
    with warnings.catch_warnings():
        # Python values fixed in the trace (shapes of parameters and
        # buffers); the onnxruntime check below runs at another batch size.
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', 'Constant folding')
        try:
            onnx_export(network, (sample, ), path, opset_version=opset,
                        input_names=['input'], output_names=['output'],
                        dynamic_axes=dict(input=input_axes,
                                          output=output_axes))
        except torch.onnx.errors.SymbolicValueError as error:
            hint = ('' if static else
                    '; if that operator needs a known input size, export '
                    'a fixed height and width with --static')
            raise RuntimeError(f'{error}{hint}') from error
    model = onnx.load(path)
    onnx.checker.check_model(model)
    custom = sorted({
        f'{node.domain}::{node.op_type}'
        for node in model.graph.node if node.domain not in STANDARD_DOMAINS
    })
    if custom:
        raise RuntimeError(f'{path} holds non-standard operators {custom}')


def main():
    args = parse_args()
    _, model = build_model_from_config(args.config, args.cfg_options)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    network = DeployedNetwork(revert_sync_batchnorm(model)).eval()
    channels = args.in_channels or input_channels(model)
    height, width = (args.shape * 2)[:2]

    torch.manual_seed(0)  # the same check on every run
    export(network, torch.randn(1, channels, height, width), args.out,
           args.opset, args.static)
    inputs = torch.randn(2, channels, height, width)
    try:
        result = compare_with_onnxruntime(
            onnx.load(args.out), network, inputs, args.tolerance)
    except RuntimeError as error:
        sys.exit(f'{args.out}: {error}')
    message = (f'onnxruntime vs PyTorch on a {tuple(inputs.shape)} input: '
               f'max difference {result.difference:.3g}, output magnitude '
               f'up to {result.scale:.3g}')
    if result.selections:
        message += (f' (PAFU: {result.ties} of {result.selections} '
                    'selections differ from PyTorch\'s, at ties)')
    if result.difference > args.tolerance * result.scale:
        sys.exit(f'{args.out}: {message}: above the tolerance '
                 f'{args.tolerance:g} x {result.scale:.3g}')
    print_log(f'Wrote {args.out}; {message}: within the tolerance '
              f'{args.tolerance:g} x {result.scale:.3g}', logger='current')


if __name__ == '__main__':
    main()
