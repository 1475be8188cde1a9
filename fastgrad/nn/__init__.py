"""The network: activations and output losses (a registry), the parameter
spec, batch normalization, and :class:`MLP`, which implements the model
protocol (:mod:`fastgrad.nn.protocol`)."""

from fastgrad.nn.model import MLP
from fastgrad.nn.protocol import CostModel, Model
from fastgrad.nn.spec import ParamSpec, params_to_vector, vector_to_params

__all__ = ["MLP", "Model", "CostModel", "ParamSpec", "params_to_vector", "vector_to_params"]
