"""Time one training iteration of Ad-ResNet against the same network with
plain convolutions in place of its ACDA layers, in one run.

The ACDA paper (Table 7) claims Ad-ResNet trains no slower than the network
with plain 7x7/5x5 convolutions at the ACDA positions. Both models are
mmpretrain ``ImageClassifier``s (Ad-ResNet backbone, global average pooling,
1000-way linear head) trained by ``model.train_step`` with SGD: data
preprocessing, forward, cross-entropy, backward and the update. Iterations
alternate between the models; the ratio is the median over rounds of the
two times measured side by side; compare ratios from one run, never
absolute times across runs.

Example::

    .venv/bin/python tools/analysis/benchmark_ad_resnet.py
    .venv/bin/python tools/analysis/benchmark_ad_resnet.py --device cuda \
        --compile

``--markdown PATH`` writes the table as benchmark_layers.py does.
"""
import argparse
import statistics

import torch
from benchmark_layers import (add_markdown_argument, add_timing_arguments,
                              markdown_header, median_ratio, setup_timing,
                              time_rounds, write_markdown)
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import pafu_acda_mm.mmpretrain  # noqa: F401  registers AdResNet

# acda_cfg per model: None is Ad-ResNet's default ACDA.
VARIANTS = {'ad_resnet': None, 'plain_conv': dict(type='Conv2d')}


def build_classifier(arch: str, acda_cfg) -> torch.nn.Module:
    """An ImageNet classifier on ``AdResNet(arch, acda_cfg=acda_cfg)``."""
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                to_rgb=True),
            backbone=dict(type='AdResNet', arch=arch, acda_cfg=acda_cfg),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=1000,
                in_channels=512 if arch == 's' else 1024,
                loss=dict(type='CrossEntropyLoss'))))


def training_iteration(model: torch.nn.Module, batch_size: int, size: int,
                       device: str):
    """A closure running one ``train_step`` on a fixed random batch."""
    model.to(device).train()
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    generator = torch.Generator().manual_seed(0)
    data = dict(
        inputs=torch.randint(
            0, 256, (batch_size, 3, size, size), dtype=torch.uint8,
            generator=generator),
        data_samples=[
            DataSample().set_gt_label(label) for label in torch.randint(
                0, 1000, (batch_size, ), generator=generator).tolist()
        ])

    def run():
        model.train_step(data, optim_wrapper)
        if device == 'cuda':
            torch.cuda.synchronize()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='s', choices=['s', 'm', 'l'])
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--compile', action='store_true',
                        help='compile both backbones with torch.compile')
    add_timing_arguments(parser)
    add_markdown_argument(parser)
    args = parser.parse_args()
    setup_timing(parser, args)
    header = markdown_header(args.device)

    runs = {}
    for name, acda_cfg in VARIANTS.items():
        model = build_classifier(args.arch, acda_cfg)
        if args.compile:
            model.backbone = torch.compile(model.backbone)
        runs[name] = training_iteration(model, args.batch_size, args.size,
                                        args.device)
    rounds = time_rounds(runs, args.repeats, args.clock)
    table = [
        f'| model | train iteration (s), B{args.batch_size} '
        f'{args.size}x{args.size} | vs plain conv |', '|---|---|---|'
    ] + [
        f'| {name} (Ad-ResNet-{args.arch}) | '
        f'{statistics.median(seconds):.3f} | '
        f'{median_ratio(rounds, name, "plain_conv"):.2f} |'
        for name, seconds in rounds.items()
    ]
    print(*table, sep='\n')
    write_markdown(args.markdown, header, table)


if __name__ == '__main__':
    main()
