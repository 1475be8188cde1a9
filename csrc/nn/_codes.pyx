"""The kernels' activation and output codes as Python enums.

``Activation`` and ``Output`` are generated from ``csrc/nn/codes.pxi``, the
same file the compiled kernels include, so the registry
(:mod:`fastgrad.nn.activations`, :mod:`fastgrad.nn.outputs`) reads the very
numbers the kernels switch on.
"""
include "nn/codes.pxi"
