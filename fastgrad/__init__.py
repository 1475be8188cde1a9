"""fastgrad: set up a deep network you can trust.

Normalize inputs, initialize weights, and check backprop against an exact,
compiled finite-difference gradient.
"""
from fastgrad import datasets, diagnose, init, optim, train
from fastgrad.gradcheck import check_grad, gradient_check, numerical_gradient
from fastgrad.model import MLP
from fastgrad.normalizer import Normalizer
from fastgrad.params import params_to_vector, vector_to_params
from fastgrad.report import GradCheckReport, GradientCheckError

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "Normalizer",
    "GradCheckReport",
    "GradientCheckError",
    "check_grad",
    "gradient_check",
    "numerical_gradient",
    "params_to_vector",
    "vector_to_params",
    "datasets",
    "diagnose",
    "init",
    "optim",
    "train",
    "__version__",
]
