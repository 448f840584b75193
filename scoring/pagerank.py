"""Weighted PageRank by power iteration on edge arrays (numpy only; scipy is not a dependency)."""

from __future__ import annotations

import numpy as np

__all__ = ["pagerank"]


def pagerank(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    damping: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 200,
    *,
    full_out: float = 0.0,
) -> np.ndarray:
    """Weighted PageRank of nodes 0..n-1 over edges src[k] -> dst[k] with weight[k] >= 0.

    Conventions are networkx's (`networkx.pagerank(G, alpha=damping, weight="weight")`):
    each node passes its rank along its out-edges in proportion to weight; a node whose
    out-weight is zero (dangling) spreads its rank uniformly over all nodes; teleportation is
    uniform. Parallel edges are summed (as networkx does for a MultiDiGraph; a DiGraph cannot
    hold them). Self-loops count like any edge. Iterates until the L1 change is below n * tol
    (networkx's criterion); the result sums to 1. Raises ArithmeticError if it does not converge.

    `full_out` > 0 is Clout's continuity rule: a node passes along its edges only the fraction
    min(1, out_weight / full_out) of its rank and the rest is spread uniformly, as if dangling.
    With the default 0 the result is plain PageRank.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.float64)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.asarray(weight, dtype=np.float64)
    if not (src.shape == dst.shape == w.shape):
        raise ValueError("src, dst and weight must have the same shape")
    if w.size and (w.min() < 0 or not np.isfinite(w).all()):
        raise ValueError("weights must be finite and >= 0")
    out = np.bincount(src, weights=w, minlength=n)
    denom = np.maximum(out, full_out) if full_out > 0 else out
    safe = np.where(denom > 0, denom, 1.0)
    # Transition probability of each edge; the share a node does not pass on ("leak") is
    # spread uniformly, which for a dangling node is all of it.
    p = np.where(denom[src] > 0, w / safe[src], 0.0)
    leak = np.where(denom > 0, 1.0 - out / safe, 1.0)
    x = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        last = x
        spread = damping * float(leak @ last) / n + (1.0 - damping) / n
        x = damping * np.bincount(dst, weights=p * last[src], minlength=n) + spread
        x /= x.sum()
        if float(np.abs(x - last).sum()) < n * tol:
            return x
    raise ArithmeticError(f"pagerank did not converge in {max_iter} iterations")
