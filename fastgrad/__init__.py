"""fastgrad: set up a deep network you can trust.

Normalize inputs, initialize weights, and check backprop against an exact,
compiled finite-difference gradient.
"""

# The compiled kernels first: without them every later import fails deep inside
# the package with Python's misleading "partially initialized module (most
# likely due to a circular import)". Say what is going on instead (NumPy and
# scikit-learn do the same).
_COMPILED = (
    "_openmp_helpers",
    "_argcheck_kernel",
    "nn._codes",
    "gradcheck._generic_kernel",
    "gradcheck._mlp_kernel",
    "normalize._normalizer_kernel",
)


def _compiled_import_error(exc):
    """The ImportError to raise when a compiled module cannot be imported.

    Its ``__cause__`` is the original error only when the modules exist but
    failed to load; a missing module's original message (the misleading
    "circular import") is suppressed."""
    import importlib.machinery
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    # Looked for as files: find_spec would import the subpackages, which
    # import the very extensions that are missing.
    missing = [
        name
        for name in _COMPILED
        if not any(
            os.path.isfile(os.path.join(here, *name.split(".")) + suffix)
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
        )
    ]
    source_tree = os.path.isdir(os.path.join(root, "csrc")) and (
        os.path.isfile(os.path.join(root, "pyproject.toml"))
        or os.path.isfile(os.path.join(root, "setup.py"))
    )
    if missing and source_tree:
        err = ImportError(
            f"you are importing fastgrad from its source tree {here}, whose compiled "
            f"extensions are not built (missing: {', '.join('fastgrad.' + n for n in missing)}). "
            "Python looks in the current directory first, so it found this copy instead of an "
            f"installed one. Either leave the source tree (cd {os.path.dirname(root) or '/'}) "
            "and import the installed fastgrad (run `pip install .` in the source tree first "
            f"if it is not installed), or build the extensions in place with "
            f"`pip install -e .` (in {root})."
        )
    elif missing:
        err = ImportError(
            f"fastgrad's compiled extensions are missing from {here} (missing: "
            f"{', '.join('fastgrad.' + n for n in missing)}): the installation is incomplete. "
            "Reinstall with `pip install --force-reinstall fastgrad` (building from source "
            "needs a C compiler)."
        )
    else:
        err = ImportError(
            f"fastgrad's compiled extensions in {here} failed to load: {exc}. They may have been "
            "built for another Python or platform, or a shared library they need (such as "
            "the OpenMP runtime, libgomp) is missing; reinstall fastgrad for this Python "
            "(`pip install --force-reinstall fastgrad`)."
        )
    err.__cause__ = None if missing else exc
    err.__suppress_context__ = True
    return err


try:
    from fastgrad import _argcheck_kernel, _openmp_helpers  # noqa: F401
    from fastgrad.gradcheck import _generic_kernel, _mlp_kernel  # noqa: F401
    from fastgrad.nn import _codes  # noqa: F401
    from fastgrad.normalize import _normalizer_kernel  # noqa: F401
except ImportError as _exc:
    raise _compiled_import_error(_exc)  # noqa: B904 (its cause is set inside)

from fastgrad import datasets, diagnostics, init, optim, train, training  # noqa: E402
from fastgrad._version import __version__  # noqa: E402
from fastgrad.diagnostics import diagnose, diagnose_layers  # noqa: E402
from fastgrad.gradcheck import (  # noqa: E402
    GradCheckReport,
    GradientCheckError,
    check_grad,
    check_vjp,
    gradient_check,
    numerical_gradient,
)
from fastgrad.nn import MLP, params_to_vector, vector_to_params  # noqa: E402
from fastgrad.normalize import Normalizer  # noqa: E402


def _warn_if_serial():
    """Say once, at import, that this build has no OpenMP: ``pip install .``
    hides the build's own warning, so the installed package says it instead
    (unless the serial build was asked for with FASTGRAD_NO_OPENMP=1)."""
    if _openmp_helpers.openmp_enabled() or _openmp_helpers.serial_requested():
        return
    import warnings

    warnings.warn(
        "fastgrad was built without OpenMP (the compiler could not build and run an "
        "OpenMP program), so its kernels run on one thread: results are identical, only "
        "slower. Rebuild with an OpenMP-capable compiler (`pip install -v .` shows the "
        "build's probe), or install a wheel; `fastgrad info` shows the build.",
        RuntimeWarning,
        stacklevel=2,
    )


_warn_if_serial()

__all__ = [
    "MLP",
    "Normalizer",
    "GradCheckReport",
    "GradientCheckError",
    "check_grad",
    "check_vjp",
    "gradient_check",
    "numerical_gradient",
    "params_to_vector",
    "vector_to_params",
    "datasets",
    "diagnose",
    "diagnose_layers",
    "diagnostics",
    "init",
    "optim",
    "train",
    "training",
    "__version__",
]
