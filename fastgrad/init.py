"""Public path of the weight initializers: the code lives in
:mod:`fastgrad.nn.init` (and LSUV in :mod:`fastgrad.nn.lsuv`), beside the
network whose parameters they draw."""

from fastgrad.nn.init import *  # noqa: F401,F403
from fastgrad.nn.lsuv import lsuv  # noqa: F401
