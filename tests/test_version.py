"""The version is written once (fastgrad/_version.py) and is what the
installed metadata, fastgrad.__version__ and ``fastgrad info`` report."""
import importlib.metadata
import re

import fastgrad
from fastgrad import _version


def test_one_version_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", _version.__version__)
    assert fastgrad.__version__ == _version.__version__
    assert importlib.metadata.version("fastgrad") == _version.__version__
