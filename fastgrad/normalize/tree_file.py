"""The canonical tree state in a Normalizer file, so that ``partial_fit``
after ``save``/``load`` continues with the bits of never having saved.

A state that starts at row 0 is, after :func:`fastgrad.normalize.tree.combine`,
a few complete nodes of decreasing size (at most one per level) followed by
at most one block's raw rows: small (``O(log n)`` nodes of ``3 d`` floats,
fewer than ``BLOCK`` raw rows). The file holds them as ``.npy`` entries and a
``tree`` record in the JSON metadata; :func:`from_file` trusts none of it:
the nodes must tile rows ``0:stop`` as the canonical tree does, and the
statistics they give must be the file's ``mean_``/``var_`` to the bit.
"""

import numpy as np

from fastgrad.normalize import tree

ENTRIES = ("tree_values", "tree_weights", "tree_raw", "tree_raw_w")


class BadTree(Exception):
    """Internal: why the tree state in a file is refused."""


def to_file(state):
    """``(meta record, arrays)`` of a state starting at row 0, or None."""
    if state is None or state.start != 0:
        return None
    nodes = [it for it in state.items if it[0] == "node"]
    raws = [it for it in state.items if it[0] == "raw"]
    if len(raws) > 1 or (raws and state.items[-1][0] != "raw"):
        return None  # not canonical (never so after combine): not saved
    d = state.n_features
    record = {
        "stop": int(state.stop),
        "levels": [int(it[1]) for it in nodes],
        "ks": [int(it[2]) for it in nodes],
        "full": [it[4] is None for it in nodes],
        "raw": int(raws[0][1].shape[0]) if raws else 0,
        "raw_weighted": bool(raws and raws[0][2] is not None),
    }
    arrays = {
        "tree_values": np.array([np.stack(it[3]) for it in nodes]).reshape(len(nodes), 3, d),
        "tree_weights": np.array([np.zeros(d) if it[4] is None else it[4] for it in nodes]).reshape(
            len(nodes), d
        ),
        "tree_raw": np.asarray(raws[0][1], dtype=np.float64) if raws else np.zeros((0, d)),
    }
    if record["raw_weighted"]:
        arrays["tree_raw_w"] = np.asarray(raws[0][2], dtype=np.float64)
    return record, arrays


def shapes(record, d):
    """The shape each tree entry must have, from a checked ``record``."""
    n = len(record["levels"])
    out = {"tree_values": (n, 3, d), "tree_weights": (n, d), "tree_raw": (record["raw"], d)}
    if record["raw_weighted"]:
        out["tree_raw_w"] = (record["raw"],)
    return out


def check_record(record):
    """The metadata record: types, and nodes tiling rows 0:stop canonically."""
    if not isinstance(record, dict) or set(record) != {
        "stop",
        "levels",
        "ks",
        "full",
        "raw",
        "raw_weighted",
    }:
        raise BadTree("the 'tree' record is malformed")
    ints = [record["stop"], record["raw"], *record["levels"], *record["ks"]]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints):
        raise BadTree("the 'tree' record holds a value that is not a non-negative int")
    if not (len(record["levels"]) == len(record["ks"]) == len(record["full"])):
        raise BadTree("the 'tree' record's node lists differ in length")
    if not all(isinstance(v, bool) for v in [*record["full"], record["raw_weighted"]]):
        raise BadTree("the 'tree' record's flags are not true/false")
    row, last = 0, None
    for level, k in zip(record["levels"], record["ks"]):
        if level > 62 or (last is not None and level >= last) or k * (tree.BLOCK << level) != row:
            raise BadTree("the tree's nodes do not tile the rows canonically")
        row, last = row + (tree.BLOCK << level), level
    if record["raw"] >= tree.BLOCK or row + record["raw"] != record["stop"]:
        raise BadTree("the tree's raw rows do not end its rows")


def from_file(record, arrays, d):
    """The :class:`TreeState` of a checked record and its arrays."""
    items = []
    for j, (level, k) in enumerate(zip(record["levels"], record["ks"])):
        vals, W = arrays["tree_values"][j], arrays["tree_weights"][j]
        if not (np.isfinite(vals).all() and np.isfinite(W).all() and (W >= 0).all()):
            raise BadTree("a tree node holds non-finite or negative values")
        value = (vals[0].copy(), vals[1].copy(), vals[2].copy())
        items.append(("node", level, k, value, None if record["full"][j] else W.copy()))
    if record["raw"]:
        w = arrays.get("tree_raw_w")
        items.append(("raw", np.ascontiguousarray(arrays["tree_raw"]), w))
    return tree.TreeState(0, record["stop"], d, items)
