"""fastgrad's version, written once: setuptools reads it for the package
metadata (``[tool.setuptools.dynamic]`` in pyproject.toml), ``fastgrad.__version__``
and ``fastgrad info`` import it."""

__version__ = "0.1.0"
