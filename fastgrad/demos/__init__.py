"""The course's experiments as runnable demos: ``fastgrad demo NAME``.

Every module in this package that defines ``NAME`` (the sub-command),
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int`` is a
demo; it is found here by name, so adding a demo touches no other file. Each
``run`` prints its table to stdout; the same work is importable as a plain
function from its module.
"""

import argparse
import importlib
import pkgutil


def available():
    """``{name: module}`` for every demo module in this package."""
    demos = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            demos[module.NAME] = module
    return dict(sorted(demos.items()))


def add_subparsers(parser):
    """Attach one sub-parser per demo to ``parser`` (used by the CLI); the
    parsed arguments carry the chosen demo's ``run`` as ``args.demo_run``."""
    sub = parser.add_subparsers(dest="demo", metavar="NAME", required=True)
    for name, module in available().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        if hasattr(module, "add_arguments"):
            module.add_arguments(p)
        p.set_defaults(demo_run=module.run)
    return sub


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastgrad demo", description="Run a course experiment.")
    add_subparsers(parser)
    args = parser.parse_args(argv)
    return args.demo_run(args)
