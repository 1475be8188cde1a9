"""Old import path, kept working: the code lives in :mod:`fastgrad.normalize.normalizer`."""

from fastgrad.normalize.normalizer import *  # noqa: F401,F403
