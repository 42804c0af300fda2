import subprocess
import sys

STACK_IMPORTS = ('from mmseg.models import *; '
                 'from mmpretrain.models import *; '
                 'from mmpretrain.evaluation import *; '
                 'from mmagic.models import *; '
                 'from mmagic.evaluation import *; '
                 'import mmcv.ops; import pafu_acda_mm')


def test_whole_stack_imports_in_one_process():
    result = subprocess.run([sys.executable, '-c', STACK_IMPORTS],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_mmcv_has_compiled_ops():
    from mmcv.ops import nms
    import torch
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
