import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.ops import row_images
from pafu_acda_mm.ops.row_images import (IMAGE_WIDTH, as_image, as_rows,
                                         linear_rows)


@pytest.mark.parametrize('count', [2 * IMAGE_WIDTH, IMAGE_WIDTH + 3])
def test_rows_as_image_make_a_matrix_product_a_1x1_conv(count):
    rows = torch.randn(count, 5, dtype=torch.float64)
    weight = torch.randn(3, 5, dtype=torch.float64)
    image = as_image(rows)
    assert image.data_ptr() == rows.data_ptr()
    assert image.is_contiguous(memory_format=torch.channels_last)
    # Batched images of IMAGE_WIDTH pixels when the rows fill them.
    assert image.shape[0] == (2 if count % IMAGE_WIDTH == 0 else 1)
    out = as_rows(F.conv2d(image, weight[..., None, None]))
    torch.testing.assert_close(out, rows @ weight.t(), rtol=0, atol=1e-12)


def test_rows_keep_their_order_in_a_given_pixel_grid():
    rows = torch.arange(24.).view(12, 2)
    image = as_image(rows, (2, 3, 2))
    assert image.shape == (2, 2, 3, 2)
    assert image[1, :, 2, 0].tolist() == rows[10].tolist()
    assert as_rows(image).data_ptr() == rows.data_ptr()
    assert torch.equal(as_rows(image), rows)


@pytest.mark.parametrize('onednn', [False, True])
@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('with_bias', [False, True])
def test_linear_rows_writes_the_grouped_product_of_the_leading_rows(
        monkeypatch, onednn, groups, with_bias):
    monkeypatch.setattr(row_images, 'is_onednn_preferred', lambda device: onednn)
    rows = torch.randn(IMAGE_WIDTH, 6, dtype=torch.float64)
    rows[50:] = 0  # padding rows beyond the 50 wanted
    weight = torch.randn(4, 6 // groups, 1, 1, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    out = torch.full((50, 4), float('nan'), dtype=torch.float64)
    linear_rows(rows, weight, bias, groups, out)
    expected = torch.cat([
        rows[:50, g * 6 // groups:(g + 1) * 6 // groups] @ weight[
            g * 4 // groups:(g + 1) * 4 // groups, :, 0, 0].t()
        for g in range(groups)
    ], dim=1)
    if with_bias:
        expected = expected + bias
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_onednn_is_preferred_only_on_avx512_cpus(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, 'get_cpu_capability',
                        lambda: 'AVX512')
    assert row_images.is_onednn_preferred(torch.device('cpu'))
    assert not row_images.is_onednn_preferred(torch.device('cuda'))
    monkeypatch.setattr(torch.backends.cpu, 'get_cpu_capability',
                        lambda: 'AVX2')
    assert not row_images.is_onednn_preferred(torch.device('cpu'))
