"""The cuda backend's beam search step, row gather and top-k dot-product search (src/cuda/seqcore_cuda/beam.h).

Same signatures and results as the cpp backend's functions of these names, on CuPy arrays.

``beam_search_step`` updates the state in place, as every backend does.  A state of CuPy arrays (a search
kept on the device) is updated where it lies; a state of NumPy arrays (``BeamState.initial``) is copied to
the device, stepped and copied back into the same arrays.  The step reads one int64 back, the position of
the first value of log_probs that is no log-probability, so that it raises the other backends' ValueError
with the state unchanged: that read is the step's one synchronization.  ``parents`` comes back as a CuPy
array.
"""

from __future__ import annotations

from typing import Any

from .._types import LOG_PROB_SLACK, BeamState
from ._device import _cuda, cp, dtype_name, empty, ids_on_device, np, on_device, ptr, stream

__all__ = ["beam_search_step", "gather_rows", "topk_dot"]

_FIELDS = {  # BeamState field: (dtype, dimensions)
    "scores": (np.float64, 2),
    "tokens": (np.int64, 3),
    "fin_scores": (np.float64, 2),
    "fin_log_probs": (np.float64, 2),
    "fin_tokens": (np.int64, 3),
    "fin_lengths": (np.int64, 2),
    "fin_count": (np.int64, 1),
    "done": (np.bool_, 1),
}


def _workspace(nbytes: int) -> Any:
    return empty((max(int(nbytes), 1),), cp.uint8)


def _state_fields(state: BeamState, B: int, K: int, L: int) -> tuple[list[Any], list[bool]]:
    """The state's arrays on the device, and which of them are copies of NumPy arrays (to copy back).

    The kernel writes through these pointers, so a CuPy field must be the caller's own array, of the
    field's dtype and shape and contiguous: a wrong one is refused here rather than written past.
    """
    on_host = [not isinstance(a, cp.ndarray) for a in state]
    fields = [on_device(a) if host else a for a, host in zip(state, on_host)]
    for name, a in zip(state._fields, fields):
        dtype, ndim = _FIELDS[name]
        shape = (B, K, L)[:ndim]
        if a.dtype != dtype or a.shape != shape:
            raise ValueError(f"state.{name} must be {np.dtype(dtype)} of shape {shape}, got {a.dtype} {a.shape}")
        if not a.flags.c_contiguous:
            raise ValueError(f"state.{name} must be C-contiguous (it is updated in place), got a strided view")
    return fields, on_host


def beam_search_step(state: BeamState, log_probs: Any, rows: Any, step: int, eos: int, length_norm: Any) -> Any:
    B, K = state.scores.shape
    L = state.tokens.shape[2]
    rows = ids_on_device(rows)
    A = int(rows.size)
    if A == 0:
        return empty((0, K), cp.int64)
    log_probs = on_device(log_probs)
    V = int(log_probs.shape[1])
    norm = on_device(length_norm, cp.float64)
    fields, on_host = _state_fields(state, B, K, L)
    parents = empty((A, K), cp.int64)
    first_bad = empty((1,), cp.int64)
    nbytes = _cuda.beam_search_workspace_bytes(A, K, V, L)
    work = _workspace(nbytes)
    _cuda.beam_search_step(
        *(ptr(a) for a in fields),
        B,
        K,
        L,
        ptr(log_probs),
        ptr(rows),
        A,
        V,
        int(step),
        int(eos),
        ptr(norm),
        ptr(parents),
        ptr(first_bad),
        ptr(work),
        nbytes,
        dtype_name(log_probs),
        stream(),
    )
    bad = int(first_bad.get()[0])  # waits for the step (CuPy's current stream, where it was queued)
    if bad >= 0:
        row, col = divmod(bad, V)
        value = float(log_probs[row, col])
        raise ValueError(
            f"log_probs must hold log-probabilities (<= 0, not NaN; up to {LOG_PROB_SLACK:g} above 0 is read as 0), "
            f"got {value!r} at log_probs[{row}, {col}]"
        )
    for host, a, d in zip(on_host, state, fields):
        if host:
            d.get(out=a)
    return parents


def gather_rows(x: Any, idx: Any) -> Any:
    x = on_device(x)
    idx = ids_on_device(idx)
    N, M = int(x.shape[0]), int(idx.shape[0])
    R = int(np.prod(x.shape[1:], dtype=np.int64))
    out = empty((M, *x.shape[1:]), x.dtype)
    if out.size:
        _cuda.gather_rows(ptr(x), ptr(idx), ptr(out), N, R, M, x.dtype.name, stream())
    return out


def topk_dot(matrix: Any, queries: Any, k: int, exclude: Any = None) -> tuple[Any, Any]:
    matrix = on_device(matrix)
    queries = on_device(queries, matrix.dtype)
    V, E = (int(n) for n in matrix.shape)
    Q, k = int(queries.shape[0]), int(k)
    scores = empty((Q, k), matrix.dtype)
    ids = empty((Q, k), cp.int64)
    if Q == 0:
        return scores, ids
    exclude = ids_on_device(exclude)
    X = 0 if exclude is None else int(exclude.shape[1])
    dtype = dtype_name(matrix)
    nbytes = _cuda.topk_dot_workspace_bytes(V, E, Q, k, X, dtype)
    work = _workspace(nbytes)
    _cuda.topk_dot(
        ptr(matrix),
        ptr(queries),
        ptr(exclude) if X else 0,
        V,
        E,
        Q,
        k,
        X,
        ptr(scores),
        ptr(ids),
        ptr(work),
        nbytes,
        dtype,
        stream(),
    )
    return scores, ids
