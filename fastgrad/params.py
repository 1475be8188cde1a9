"""Old import path, kept working: the code lives in :mod:`fastgrad.nn.spec`."""

from fastgrad.nn.spec import *  # noqa: F401,F403
