"""Public path of the weight initializers: the code lives in
:mod:`fastgrad.nn.init`, beside the network whose parameters it draws."""

from fastgrad.nn.init import *  # noqa: F401,F403
