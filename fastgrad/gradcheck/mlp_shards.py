"""The MLP check's shards: :meth:`KernelInputs.run` spread over ``workers=``.

Above :mod:`fastgrad.gradcheck.distributed` (how shards run) and below
:mod:`fastgrad.gradcheck.mlp`, which hands in ``build``: its module-level
function that makes the net in a worker (picklable by reference), so that
this module needs nothing of the MLP check but ``net.plan`` and ``net.run``.
"""

from __future__ import annotations

import numpy as np

from fastgrad import _progress
from fastgrad.gradcheck import distributed

# Shards per worker: enough to balance uneven workers and to lose little when
# one dies; few enough that each shard's set-up (its exact linear maps) stays
# small next to its coordinates.
SHARDS_PER_WORKER = 4
MIN_SHARD = 64
ROUNDS = 8


def _mlp_shard(net, item):
    coords, plan, desc = item
    return net.run(coords, 1, False, desc, plan=plan)


def split(n, n_shards):
    """Start/stop bounds of ``n_shards`` nearly equal consecutive shards."""
    n_shards = max(1, min(n, n_shards))
    edges = [(n * j) // n_shards for j in range(n_shards + 1)]
    return list(zip(edges[:-1], edges[1:]))


class MLPShards(distributed.Shards):
    """:meth:`KernelInputs.run` spread over ``workers``: the plan is made
    here from the whole coordinate set (``net.plan``), so every shard
    propagates exactly as the whole local run would, and the concatenated
    results are the local run's bits. ``build(data)`` makes the net in a
    worker from ``(model, params, X, Y, epsilon, scales)``."""

    def __init__(self, workers, build, net, model, params, X, Y, epsilon, scales):
        super().__init__(workers, build, (model, params, X, Y, epsilon, scales))
        self.net = net

    def run(self, coords, n_threads, progress, desc):
        coords = np.ascontiguousarray(coords, dtype=np.intp)
        K = coords.size
        if K == 0:
            return self.net.run(coords, n_threads, progress, desc)
        plan = self.net.plan(coords)
        n = max(1, min(SHARDS_PER_WORKER * distributed.n_workers(self.workers), K // MIN_SHARD))
        # A coordinate's cost depends on its layer (a first layer's
        # coordinates can cost 50x a last layer's): each shard takes every
        # n-th of ROUNDS * n contiguous pieces, so the shards cost about the
        # same whatever the network.
        pieces = split(K, n * ROUNDS)
        where = [
            np.concatenate([np.arange(a, b) for a, b in pieces[j::n]])
            for j in range(min(n, len(pieces)))
        ]
        bar = _progress.Progress(K, progress, desc)
        try:
            items = [(coords[w], plan, desc) for w in where]
            parts = self.map(_mlp_shard, items, [w.size for w in where], bar)
        finally:
            bar.close()
        numerical, kinks = np.empty(K), np.empty(K, dtype=bool)
        for w, p in zip(where, parts):
            numerical[w], kinks[w] = p[0], p[1]
        return numerical, kinks, sum(p[2] for p in parts)

    def note(self):
        retried = ""
        if self.retries:
            what = "data shipped again" if distributed.is_client(self.workers) else "pool restarted"
            retried = f", {what} {self.retries} time(s) after workers died"
        return (
            f"workers: {distributed.describe(self.workers)}, {self.n_shards} shards of the "
            f"kernel's coordinates{retried}"
        )
