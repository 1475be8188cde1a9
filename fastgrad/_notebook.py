"""How fastgrad's reports show in IPython and Jupyter."""

import html


class ShownInFull:
    """A report left at the end of a notebook cell shows in full, as
    ``print(report)`` does (its table and hints are what a notebook user
    wants), not as its one-line ``repr``."""

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self) if cycle else str(self))

    def _repr_html_(self):
        return f"<pre>{html.escape(str(self))}</pre>"
