import numpy as np
import pytest
import torch

from pafu_acda_mm.toy import (PatternDetectionDataset, make_pattern_sample,
                              pattern_template)


def test_templates_differ_per_scale_and_are_centred():
    plus, cross, ring = (pattern_template(i, s)
                         for i, s in enumerate((3, 5, 7)))
    assert plus.sum() == 5 and plus[1, 1] == 1 and plus[0, 0] == 0
    assert cross.sum() == 9 and cross[2, 2] == 1 and cross[0, 4] == 1
    assert ring.sum() == 24 and ring[3, 3] == 0
    for template in (plus, cross, ring):
        assert np.array_equal(template, template[::-1, ::-1])


def test_scene_has_25_centres_with_their_patterns_and_noise_background():
    image, target = make_pattern_sample(np.random.default_rng(0))
    assert image.shape == target.shape == (1, 100, 100)
    assert set(np.unique(target)) == {0.0, 1.0} and target.sum() == 25
    ones = image[0] == 1
    assert image[0][~ones].max() < 0.5 and image.min() >= 0
    sizes = []
    for y, x in zip(*np.nonzero(target[0])):
        for index, size in enumerate((3, 5, 7)):
            half = size // 2
            patch = image[0, y - half:y + half + 1, x - half:x + half + 1]
            if np.array_equal(patch == 1, pattern_template(index, size) > 0):
                sizes.append(size)
                break
    assert sorted(sizes) == [3] * 9 + [5] * 8 + [7] * 8
    # Every pattern pixel belongs to a pattern: 9*5 + 8*9 + 8*24 in total.
    assert ones.sum() == 9 * 5 + 8 * 9 + 8 * 24


def test_shift_moves_the_whole_scene_and_keeps_every_pattern():
    scene = PatternDetectionDataset(seed=1)[0]
    moved = PatternDetectionDataset(seed=1, shift=(20, 20))[0]
    for key in ('inputs', 'target'):
        assert torch.equal(moved[key][:, 20:, 20:], scene[key][:, :80, :80])
    assert moved['target'].sum() == scene['target'].sum() == 25
    assert scene['target'][:, 80:].sum() == scene['target'][...,
                                                            80:].sum() == 0
    with pytest.raises(ValueError, match='shift'):
        make_pattern_sample(np.random.default_rng(0), shift=(21, 0))


def test_scene_is_a_function_of_the_seed():
    a, b = PatternDetectionDataset(seed=4), PatternDetectionDataset(seed=4)
    assert torch.equal(a[0]['inputs'], b[0]['inputs'])
    assert not torch.equal(a[0]['inputs'],
                           PatternDetectionDataset(seed=5)[0]['inputs'])
    assert len(PatternDetectionDataset(seed=4, num_samples=3)) == 3
