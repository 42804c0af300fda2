import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.layers.row_images import IMAGE_WIDTH, as_image, as_rows


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
