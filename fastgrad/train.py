"""Old import path, kept working: the code lives in :mod:`fastgrad.training`."""

from fastgrad.training import *  # noqa: F401,F403
