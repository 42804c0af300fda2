"""The layers on a CUDA GPU (tools/gpu_check.sh runs these where one is
lent; the Triton kernels' own checks are tests/ops)."""
import copy

import pytest
import torch

from pafu_acda_mm.layers import ACDA, PAFU

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='needs a CUDA GPU')

LAYERS = {
    'PAFU': lambda: PAFU(16, 24, 3, padding=1, num_kernels=8),
    'PAFU strided, mixed sizes': lambda: PAFU(
        16, 24, 5, stride=2, padding=2, num_kernels=4, kernel_sizes=(3, 5)),
    'ACDA': lambda: ACDA(16, 24, 7, padding=3),
}


def _training_step(layer, optimizer, x, dtype):
    with torch.autocast('cuda', dtype=dtype, enabled=dtype != torch.float32):
        loss = layer(x).float().square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize('name', list(LAYERS))
@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.bfloat16, torch.float16])
def test_training_step_never_waits_for_the_host(name, dtype):
    """Forward, backward and an optimizer step, under autocast for 16-bit
    dtypes, with every synchronising CUDA call an error."""
    layer = LAYERS[name]().cuda().train()
    optimizer = torch.optim.SGD(layer.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(2, 16, 20, 18, device='cuda')
    _training_step(layer, optimizer, x, dtype)  # compiles, fills the cache
    torch.cuda.set_sync_debug_mode('error')
    try:
        _training_step(layer, optimizer, x, dtype)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert all(torch.isfinite(p).all() for p in layer.parameters())


@pytest.mark.parametrize('name', list(LAYERS))
@pytest.mark.parametrize('compiled', [False, True])
def test_layer_on_cuda_equals_the_layer_on_the_cpu(name, compiled):
    """fp64 (no TF32), eval mode (PAFU's argmax selection on both devices),
    gradients enabled: output, input and parameter gradients; compiled
    without graph breaks where torch has custom ops."""
    torch._dynamo.reset()
    layer = LAYERS[name]().double().eval()
    cuda_layer = copy.deepcopy(layer).cuda()
    model = torch.compile(cuda_layer) if compiled else cuda_layer
    x = torch.randn(2, 16, 13, 11, dtype=torch.float64, requires_grad=True)
    x_cuda = x.detach().cuda().requires_grad_()
    out, cuda_out = layer(x), model(x_cuda)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    cuda_out.backward(grad_out.cuda())
    torch.testing.assert_close(cuda_out.cpu(), out, rtol=1e-9, atol=1e-9)
    # PAFU's selection softmax runs in fp32 whatever the input (gumbel.py).
    for cpu_grad, cuda_grad in zip(
        [x.grad] + [p.grad for p in layer.parameters()],
        [x_cuda.grad] + [p.grad for p in cuda_layer.parameters()]):
        torch.testing.assert_close(cuda_grad.cpu(), cpu_grad, rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_pafu_under_autocast_stays_near_fp32(dtype):
    """Where the 16-bit selector picks the fp32 one's kernel (near-ties may
    flip), the output is fp32's up to 16-bit rounding."""
    layer = LAYERS['PAFU']().cuda().eval()
    x = torch.randn(2, 16, 20, 18, device='cuda')
    reference, reference_index = layer(x, return_selection=True)
    with torch.autocast('cuda', dtype=dtype):
        out, index = layer(x, return_selection=True)
    assert out.dtype == dtype
    same = (index == reference_index).unsqueeze(1).expand_as(out)
    assert same.float().mean() > 0.9
    error = (out.float() - reference)[same].abs().max()
    assert error <= 2e-2 * reference.abs().max()
