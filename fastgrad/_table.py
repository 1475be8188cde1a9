"""The one text-table renderer: every report, diagnosis and demo table."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def _widths(header, rows):
    return [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]


def table(
    header: Sequence,
    rows: Sequence[Sequence],
    *,
    left: Collection[int] | None = (0,),
    rule: bool = True,
) -> list[str]:
    """Lines of a plain-text table: columns padded to their widest cell and
    separated by two spaces, trailing blanks stripped.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences of str
    left : collection of int, or None
        Columns aligned left; the others are right-aligned (numbers). None
        aligns every column left.
    rule : bool, default True
        A line of dashes under the header.
    """
    header = [str(h) for h in header]
    rows = [[str(c) for c in r] for r in rows]
    widths = _widths(header, rows)

    def line(cells):
        return "  ".join(
            c.ljust(w) if left is None or i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [line(header)]
    if rule:
        out.append(line(["-" * w for w in widths]))
    return out + [line(r) for r in rows]


def markdown_table(header: Sequence, rows: Sequence[Sequence]) -> list[str]:
    """Lines of a Markdown (pipe) table, every column left-aligned."""
    rows = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = _widths(rows[0], rows[1:])
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines
