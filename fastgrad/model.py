"""Old import path, kept working: the code lives in :mod:`fastgrad.nn.model`."""

from fastgrad.nn.model import *  # noqa: F401,F403
