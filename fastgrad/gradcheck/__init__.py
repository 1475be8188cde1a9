"""Gradient checking: the front door (:func:`gradient_check`,
:func:`check_grad`, :func:`numerical_gradient`), the MLP path and its
compiled kernel, the generic (callable) path and its kernel, the report."""

from fastgrad.gradcheck.callable import check_grad, numerical_gradient
from fastgrad.gradcheck.check import gradient_check
from fastgrad.gradcheck.report import GradCheckReport, GradientCheckError
from fastgrad.gradcheck.vjp import check_vjp

__all__ = [
    "gradient_check",
    "check_grad",
    "check_vjp",
    "numerical_gradient",
    "GradCheckReport",
    "GradientCheckError",
]
