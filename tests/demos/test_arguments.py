"""Bad arguments to the demos' importable functions name the argument."""
import numpy as np
import pytest

from fastgrad.demos import depth, init, normalize, optimizers, regularize

X, Y = np.zeros((2, 4)), np.zeros((1, 4))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: depth.depth_profile(depth=0), ValueError, r"depth must be an int >= 1"),
    (lambda: depth.depth_profile(width=2.0), TypeError, r"width must be an int"),
    (lambda: depth.depth_profile(m=1), ValueError, r"m must be an int >= 2"),
    (lambda: depth.depth_profile(seed=-1), ValueError, r"seed must be an int >= 0"),
    (lambda: depth.depth_profile(seed="0"), TypeError, r"seed must be an int"),
    (lambda: init.compare_initializations(iterations=-1), ValueError, r"iterations must be an int >= 0"),
    (lambda: init.compare_initializations(iterations=True), TypeError, r"iterations must be an int"),
    (lambda: init.compare_initializations(learning_rate="0.1"), TypeError, r"learning_rate must be a real"),
    (lambda: init.compare_initializations(learning_rate=0), ValueError, r"learning_rate must be a finite number > 0"),
    (lambda: init.compare_initializations(n_train=1), ValueError, r"n_train must be an int >= 2"),
    (lambda: init.compare_initializations(seed=-2), ValueError, r"seed must be an int >= 0"),
    (lambda: normalize.compare_normalization(m=1), ValueError, r"m must be an int >= 2"),
    (lambda: normalize.compare_normalization(target_fraction=1.5), ValueError, r"target_fraction"),
    (lambda: normalize.compare_normalization(max_iterations=0), ValueError, r"max_iterations"),
    (lambda: optimizers.compare_optimizers(X, Y, names=["sgd"]), ValueError, r"names must be one of 'gd', 'momentum', 'adam'"),
    (lambda: optimizers.compare_optimizers(X, Y, names=[None]), TypeError, r"names must be a string"),
    (lambda: optimizers.compare_optimizers(X, Y, print_every=0), ValueError, r"print_every must be an int >= 1"),
    (lambda: regularize.compare_regularization(X, Y, X, Y, variants=["batchnorm"]), ValueError,
     r"variants must be one of 'none', 'l2', 'dropout'"),
])
def test_demo_functions_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
