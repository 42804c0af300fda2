"""Convert a trained model for deployment (PAFU paper 5.3).

    python tools/deploy/convert.py CONFIG CKPT OUT [--calib-data val]

Runs the calibration data (a dataloader of the config) through the model in
eval mode, replaces every PAFU that selects one kernel everywhere by an
``nn.Conv2d`` holding it, and checks the converted model's outputs against
the original's on that data. Writes the checkpoint ``OUT`` and, beside it,
the config that builds the converted model (``OUT`` with a ``.py`` suffix),
e.g. for ``tools/test.py OUT.py OUT``. The other PAFUs keep their eval-mode
forward: the deterministic hard selection.
"""
import argparse
import copy
import os.path as osp

import torch
from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner, load_checkpoint, save_checkpoint

from pafu_acda_mm.engine import (build_model_from_config,
                                 convert_single_kernel_pafus,
                                 count_pafu_selections, single_kernel_units)

# Deterministic pipelines: the check sees the images the calibration saw.
CALIBRATION_DATA = ('val', 'test')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert single-kernel PAFUs to plain convolutions')
    parser.add_argument('config', help='model config file path')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('out', help='converted checkpoint to write (.pth)')
    parser.add_argument(
        '--calib-data', choices=CALIBRATION_DATA, default='val',
        help='the dataloader of the config to calibrate on')
    parser.add_argument(
        '--calib-batches', type=int,
        help='use only this many batches (default: the whole dataloader)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    args = parser.parse_args()
    if not args.out.endswith('.pth'):
        parser.error(f'OUT must end with .pth, got {args.out!r}')
    if args.calib_batches is not None and args.calib_batches < 1:
        parser.error(
            f'--calib-batches must be >= 1, got {args.calib_batches}')
    return args


def main():
    args = parse_args()
    cfg, model = build_model_from_config(args.config, args.cfg_options)
    dataloader_key = f'{args.calib_data}_dataloader'
    if cfg.get(dataloader_key) is None:
        raise ValueError(f'--calib-data {args.calib_data} needs '
                         f'{dataloader_key} in the config')

    checkpoint = load_checkpoint(model, args.checkpoint, map_location='cpu')
    dataloader = Runner.build_dataloader(cfg[dataloader_key])
    num_batches = min(args.calib_batches or len(dataloader), len(dataloader))

    counts = count_pafu_selections(model, dataloader, num_batches)
    units = single_kernel_units(counts)
    for name, count in counts.items():
        share = (count.float() / count.sum()).tolist()
        print_log(f'{name}: kernel shares {[round(s, 4) for s in share]}' +
                  (f' -> nn.Conv2d (kernel {units[name]})'
                   if name in units else ''), logger='current')
    converted = convert_single_kernel_pafus(copy.deepcopy(model), units)
    converted.eval()

    with torch.no_grad():
        for _, batch in zip(range(num_batches), dataloader):
            data = model.data_preprocessor(batch, False)
            torch.testing.assert_close(
                converted(**data, mode='tensor'),
                model(**data, mode='tensor'),
                rtol=1e-4,
                atol=1e-4)
    print_log(f'Converted {len(units)} of {len(counts)} PAFUs; the outputs '
              f'equal the original\'s on the {num_batches} calibration '
              'batches (rtol=atol=1e-4).', logger='current')

    save_checkpoint(
        dict(meta=dict(checkpoint.get('meta', {}),
                       single_kernel_pafus=units,
                       converted_from=osp.abspath(args.checkpoint)),
             state_dict=converted.state_dict()), args.out)
    deploy_cfg = copy.deepcopy(cfg)
    deploy_cfg.model = dict(type='PAFUDeployedModel', model=cfg.model,
                            single_kernel_pafus=units)
    # pafu_acda_mm.engine registers PAFUDeployedModel.
    imports = list(cfg.get('custom_imports', {}).get('imports', []))
    if 'pafu_acda_mm.engine' not in imports:
        deploy_cfg.custom_imports = dict(
            imports=imports + ['pafu_acda_mm.engine'],
            allow_failed_imports=False)
    deploy_cfg.load_from = args.out
    config_path = osp.splitext(args.out)[0] + '.py'
    deploy_cfg.dump(config_path)
    print_log(f'Wrote {args.out} and {config_path}', logger='current')


if __name__ == '__main__':
    main()
