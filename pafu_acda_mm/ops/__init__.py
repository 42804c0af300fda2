"""The computations behind the layers, as torch ops with an implementation
per device (``<op>_cpu.py``, ``<op>_cuda.py``); ``layers`` holds the
modules."""
from .selected_conv import indexed_conv2d, selected_conv2d

__all__ = ['indexed_conv2d', 'selected_conv2d']
