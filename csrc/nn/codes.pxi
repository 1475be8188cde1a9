# The integer codes of the activations and output layers: the one source.
#
# Included by csrc/nn/_codes.pyx, which makes them Python enums
# (fastgrad.nn._codes.Activation, .Output) that the registry in
# fastgrad/nn/activations.py and fastgrad/nn/outputs.py reads, and by every
# kernel that switches on a code (csrc/gradcheck/_mlp_kernel.pyx). Adding an
# activation: one member here, one case in the kernel, one registry entry.
# (An include, not a cimported .pxd: a .pxd's cpdef enum reaches Python only
# through a module of the same dotted name, and csrc/ mirrors the package
# without being it.)

cpdef enum Activation:
    ACT_LINEAR = 0
    ACT_RELU = 1
    ACT_LEAKY = 2
    ACT_TANH = 3
    ACT_SIGMOID = 4

cpdef enum Output:
    OUT_SIGMOID = 0
    OUT_SOFTMAX = 1
    OUT_LINEAR = 2
