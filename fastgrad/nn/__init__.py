"""The network: activations and output losses (a registry), the parameter
spec, batch normalization, and :class:`MLP` with its model protocol."""
from fastgrad.nn.model import MLP
from fastgrad.nn.spec import params_to_vector, vector_to_params

__all__ = ["MLP", "params_to_vector", "vector_to_params"]
