"""fastgrad: set up a deep network you can trust.

Normalize inputs, initialize weights, and check backprop against an exact,
compiled finite-difference gradient.
"""
from fastgrad.model import MLP
from fastgrad.params import params_to_vector, vector_to_params
from fastgrad import datasets, diagnose, init, train  # modules: fastgrad.init.he, ...

__version__ = "0.1.0"

__all__ = ["MLP", "params_to_vector", "vector_to_params", "__version__"]
__all__ += ["datasets", "diagnose", "init", "train"]
