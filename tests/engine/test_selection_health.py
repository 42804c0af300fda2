import json
import math
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from pafu_acda_mm.engine import (SelectionHealthHook,
                                 acda_coefficient_statistics,
                                 pafu_selection_statistics)
from pafu_acda_mm.layers import ACDA, PAFU

NUM_KERNELS = 4


def _naive_pafu_statistics(logits):
    """Usage perplexity, unused fraction and chosen probability, pixel by
    pixel in Python."""
    batch, num_kernels, height, width = logits.shape
    counts = Counter()
    chosen_probs = []
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                pixel = logits[b, :, i, j].double()
                chosen = int(pixel.argmax())
                counts[chosen] += 1
                chosen_probs.append(float(pixel.softmax(0)[chosen]))
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return [
        math.exp(entropy), (num_kernels - len(counts)) / num_kernels,
        float(np.mean(chosen_probs))
    ]


def test_pafu_statistics_equal_the_naive_definitions():
    logits = torch.randn(2, 5, 6, 7) * 3
    np.testing.assert_allclose(pafu_selection_statistics(logits).tolist(),
                               _naive_pafu_statistics(logits), rtol=1e-5)
    # Only kernels 0 and 3 chosen, 3 for two pixels of 84.
    logits = torch.zeros(2, 5, 6, 7)
    logits[:, 0] = 1
    logits[0, 3, 0, :2] = 2
    perplexity, unused, _ = pafu_selection_statistics(logits).tolist()
    p = 2 / 84
    assert perplexity == pytest.approx(
        math.exp(-p * math.log(p) - (1 - p) * math.log(1 - p)))
    assert unused == pytest.approx(3 / 5)


def _naive_acda_statistics(layer, coeffs):
    """Per scale: mean |coefficient| and the per-image pixel std, channel by
    channel."""
    num_scales = len(layer.scales)
    per_scale = coeffs.shape[1] // layer.num_atoms // num_scales
    abs_means, pixel_stds = [], []
    for scale in range(num_scales):
        channels = [
            atom * num_scales * per_scale + scale * per_scale + basis
            for atom in range(layer.num_atoms) for basis in range(per_scale)
        ]
        values = coeffs[:, channels].double().numpy()
        abs_means.append(np.abs(values).mean())
        pixel_stds.append(
            np.mean([[values[b, c].std() for c in range(len(channels))]
                     for b in range(values.shape[0])]))
    return [abs_means, pixel_stds]


def _coefficients(layer: ACDA, x: torch.Tensor) -> torch.Tensor:
    """The atom generator's output in ``layer(x)``."""
    outputs = []
    handle = layer.atom_generator.register_forward_hook(
        lambda module, inputs, output: outputs.append(output.detach()))
    with torch.no_grad():
        layer(x)
    handle.remove()
    return outputs[0]


def test_acda_statistics_equal_the_naive_definitions():
    layer = ACDA(4, 4, 5, padding=2, num_atoms=3)
    coeffs = _coefficients(layer, torch.randn(2, 4, 6, 5))
    np.testing.assert_allclose(
        acda_coefficient_statistics(layer, coeffs).tolist(),
        _naive_acda_statistics(layer, coeffs), rtol=1e-5)
    # A layer whose coefficients do not vary over the pixels.
    assert acda_coefficient_statistics(
        layer, torch.ones(1, coeffs.shape[1], 4, 4))[1].tolist() == [0, 0]


def _pafu_with_selector(logit_of_input: float, bias: torch.Tensor) -> PAFU:
    """A PAFU whose logits are ``logit_of_input * x + bias`` at every pixel
    of a ``NUM_KERNELS``-channel input ``x``."""
    layer = PAFU(NUM_KERNELS, 2, 3, padding=1, num_kernels=NUM_KERNELS,
                 selector_cfg=dict(mid_channels=NUM_KERNELS, norm_cfg=None))
    eye = torch.eye(NUM_KERNELS)
    with torch.no_grad():
        selector = layer.selector
        selector.reduce[0].weight.copy_(eye[..., None, None])
        selector.reduce[0].bias.zero_()
        selector.predict.weight.zero_()
        selector.predict.weight[..., 1, 1] = logit_of_input * eye
        selector.predict.bias.copy_(bias)
    return layer


class _CollapsedAndBalanced(BaseModel):
    """Three PAFUs on the same input: one selects kernel 0 at every pixel,
    one the input's class, one has a single kernel; and an ACDA."""

    def __init__(self):
        super().__init__()
        self.collapsed = _pafu_with_selector(
            0, torch.tensor([20.] + [0] * (NUM_KERNELS - 1)))
        self.balanced = _pafu_with_selector(10, torch.zeros(NUM_KERNELS))
        self.single = PAFU(NUM_KERNELS, 2, 3, padding=1, num_kernels=1)
        self.acda = ACDA(NUM_KERNELS, 2, 3, padding=1, num_atoms=2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        outputs = [
            self.collapsed(inputs), self.balanced(inputs),
            self.single(inputs), self.acda(inputs)
        ]
        return dict(loss=sum(out.square().mean() for out in outputs))


def _class_images(batch: int) -> torch.Tensor:
    """One-hot images, pixel (i, j) of class (i + j) % NUM_KERNELS: every
    class on the same number of pixels."""
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4),
                                indexing='ij')
    one_hot = torch.nn.functional.one_hot((rows + cols) % NUM_KERNELS,
                                          NUM_KERNELS)
    return one_hot.permute(2, 0, 1).float().expand(batch, -1, -1, -1)


def test_collapsed_and_balanced_pafus_in_a_runner_log(tmp_path):
    model = _CollapsedAndBalanced()
    images = _class_images(8)
    expected_acda = acda_coefficient_statistics(
        model.acda, _coefficients(model.acda, images[:2]))
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'health_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=[dict(inputs=image) for image in images],
            sampler=dict(type='InfiniteSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        train_cfg=dict(by_epoch=False, max_iters=8),
        log_processor=dict(by_epoch=False),
        # Real steps that leave the layers (and their statistics) as set.
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=2)),
        custom_hooks=[dict(type='SelectionHealthHook', collapse_logs=3)])
    runner.train()

    log_dir = Path(runner.log_dir)
    logs = [
        json.loads(line) for line in
        (log_dir / 'vis_data' / 'scalars.json').read_text().splitlines()
    ]
    assert [log['iter'] for log in logs] == [2, 4, 6, 8]
    chosen_collapsed = math.exp(20) / (math.exp(20) + NUM_KERNELS - 1)
    chosen_balanced = math.exp(10) / (math.exp(10) + NUM_KERNELS - 1)
    for log in logs:
        assert log['pafu/collapsed/perplexity'] == pytest.approx(1)
        assert log['pafu/collapsed/unused'] == pytest.approx(0.75)
        assert log['pafu/collapsed/chosen_prob'] == pytest.approx(
            chosen_collapsed)
        assert log['pafu/balanced/perplexity'] == pytest.approx(NUM_KERNELS)
        assert log['pafu/balanced/unused'] == 0
        assert log['pafu/single/perplexity'] == pytest.approx(1)
        assert log['pafu/balanced/chosen_prob'] == pytest.approx(
            chosen_balanced)
        for stat, values in zip(('abs_mean', 'pixel_std'), expected_acda):
            for scale, value in zip(model.acda.scales, values.tolist()):
                assert log[f'acda/acda/{scale}x{scale}_{stat}'] == (
                    pytest.approx(value, rel=1e-5))

    text_log = (log_dir / f'{log_dir.name}.log').read_text()
    assert 'pafu/balanced/perplexity: 4.0000' in text_log
    warnings = [line for line in text_log.splitlines()
                if 'WARNING - SelectionHealthHook' in line]
    # Once, for the collapsed layer only (a single kernel is no collapse),
    # with the third collapsed log, before the logger writes it.
    assert len(warnings) == 1 and "PAFU 'collapsed'" in warnings[0]
    assert (text_log.index('Iter(train) [4/8]') < text_log.index(warnings[0])
            < text_log.index('Iter(train) [6/8]'))
    # The forward hooks are gone after training.
    assert not model.collapsed.selector._forward_hooks


@pytest.mark.parametrize('kwargs', [
    dict(collapse_perplexity=1.0), dict(collapse_perplexity='1.5'),
    dict(collapse_logs=0), dict(collapse_logs=2.0)
])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SelectionHealthHook(**kwargs)
