"""Old import path, kept working: the code lives in :mod:`fastgrad.nn.activations`."""

from fastgrad.nn.activations import *  # noqa: F401,F403
