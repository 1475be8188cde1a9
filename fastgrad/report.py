"""Old import path, kept working: the code lives in :mod:`fastgrad.gradcheck.report`."""

from fastgrad.gradcheck.report import *  # noqa: F401,F403
