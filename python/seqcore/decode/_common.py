"""What greedy and beam search share: the decoder state as a tree of arrays, argument checks, step_fn's output.

A state is an array, None, or a tuple / list / dict (NamedTuples included) of states, nested; every
array's first dimension is the rows of the step (the batch at first).  Arrays of float32, float64 or
int64 are gathered by ``seqcore.kernels.gather_rows``, any other dtype by NumPy.

A step_fn may run on a GPU: its state's arrays may be CuPy arrays (gathered on their device by the
cuda backend), and its log-probs are read back to the host, where the search itself runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._backend import active, load
from ..kernels import LOG_PROB_SLACK
from ..kernels._validate import as_int, as_real, is_device_array, native, xp_of

#: the course's choice (Hugging Face uses 1.0): log P / Ty**0.7
DEFAULT_LENGTH_PENALTY = 0.7
_GATHERED = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def leaves(tree: Any, path: str) -> Iterator[tuple[str, np.ndarray]]:
    """(path, array) for every array of the tree; anything but arrays, None and containers is a TypeError."""
    if tree is None:
        return
    if isinstance(tree, np.ndarray) or is_device_array(tree):
        yield path, tree
    elif _is_namedtuple(tree):
        for name, v in zip(tree._fields, tree):
            yield from leaves(v, f"{path}.{name}")
    elif isinstance(tree, (tuple, list)):
        for k, v in enumerate(tree):
            yield from leaves(v, f"{path}[{k}]")
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, f"{path}[{k!r}]")
    else:
        raise TypeError(
            f"{path} must be a NumPy array (or CuPy), None, or a tuple / list / dict of them, got {type(tree).__name__}"
        )


def tree_map(fn: Callable[[np.ndarray], np.ndarray], tree: Any) -> Any:
    """The tree with fn applied to every array (same containers; None stays None)."""
    if tree is None:
        return None
    if isinstance(tree, np.ndarray) or is_device_array(tree):
        return fn(tree)
    if _is_namedtuple(tree):
        return type(tree)(*(tree_map(fn, v) for v in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, v) for v in tree)
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    raise TypeError(
        f"state must be a NumPy array (or CuPy), None, or a tuple / list / dict of them, got {type(tree).__name__}"
    )


def rows_of(tree: Any, path: str) -> int | None:
    """The common first dimension of the tree's arrays (None when it has none)."""
    found: tuple[str, int] | None = None
    for where, a in leaves(tree, path):
        if a.ndim == 0:
            raise ValueError(f"{where} must have a first dimension (the batch), got a 0-d array")
        if found is None:
            found = (where, a.shape[0])
        elif a.shape[0] != found[1]:
            raise ValueError(
                f"the arrays of {path} must share their first dimension (the batch): {found[0]} has {found[1]} rows, "
                f"{where} has {a.shape[0]}"
            )
    return None if found is None else found[1]


def take_rows(tree: Any, idx: np.ndarray) -> Any:
    """Every array's rows ``idx``, in that order (the state following its beams).  idx is the search's own,
    int64 and in range, so the active backend's gather_rows is called directly (seqcore.kernels would
    check it again for every array of every step)."""
    backend = active()

    def take(a: np.ndarray) -> np.ndarray:
        if is_device_array(a):  # a GPU decoder's state stays on its device
            xp = xp_of(a)
            if a.dtype in _GATHERED:
                return load("cuda").gather_rows(native(a), xp.asarray(idx))
            return xp.take(a, xp.asarray(idx), axis=0)
        if a.dtype in _GATHERED:
            return backend.gather_rows(native(a), idx)
        return np.take(a, idx, axis=0)

    return tree_map(take, tree)


def batch_rows(init_state: Any, bos: Any, batch_size: Any) -> tuple[int, np.ndarray]:
    """N, from the state's arrays, bos or batch_size (those given must agree), and bos as int64 [N]."""
    sizes: dict[str, int] = {}
    n_state = rows_of(init_state, "init_state")
    if n_state is not None:
        sizes["init_state"] = n_state
    if bos is None:
        raise TypeError("bos must be an int or an integer array of shape (N,), got None")
    b = np.asarray(bos)
    if b.dtype == np.bool_ or not np.issubdtype(b.dtype, np.integer):
        raise TypeError(f"bos must be an int or an integer array of shape (N,), got {type(bos).__name__} of dtype "
                        f"{b.dtype}")  # fmt: skip
    if b.ndim > 1:
        raise ValueError(f"bos must be an int or an integer array of shape (N,), got shape {b.shape}")
    if b.ndim == 1:
        sizes["bos"] = b.shape[0]
    if batch_size is not None:
        sizes["batch_size"] = as_int("batch_size", batch_size, 0)
    if not sizes:
        raise ValueError("batch_size is needed when init_state holds no arrays and bos is a single int")
    if len(set(sizes.values())) > 1:
        told = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise ValueError(f"init_state, bos and batch_size disagree on the batch size: {told}")
    N = next(iter(sizes.values()))
    if b.ndim == 0:
        b = np.full(N, int(b), np.int64)
    return N, b.astype(np.int64)


def check_max_len(max_len: Any) -> int:
    return as_int("max_len", max_len, 1)


def check_eos(eos: Any) -> int | None:
    return None if eos is None else as_int("eos", eos, 0)


def check_length_penalty(length_penalty: Any) -> float:
    alpha = as_real("length_penalty", length_penalty, 0.0)
    if alpha == np.inf:
        raise ValueError("length_penalty must be finite, got inf")
    return alpha


def length_norms(max_len: int, alpha: float) -> np.ndarray:
    """[max_len] float64: the divisor n**alpha of an n-token hypothesis's log-prob, at n - 1."""
    return np.arange(1, max_len + 1, dtype=np.float64) ** alpha


def objective(log_prob: Any, length: Any, alpha: float) -> Any:
    """The course's length-normalised objective: log_prob / length**alpha (length counts EOS)."""
    return np.asarray(log_prob, np.float64) / np.asarray(length, np.float64) ** alpha


def call_step(step_fn: Callable, prev: np.ndarray, state: Any, rows: int, V: int | None, step: int) -> tuple:
    """step_fn(prev, state); its log_probs checked as [rows, V] float32/float64, its state's arrays as [rows, ...]."""
    out = step_fn(prev, state)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"step_fn must return a pair (log_probs, state), got {type(out).__name__} at step {step}")
    log_probs, new_state = out
    if is_device_array(log_probs):  # a step run on a GPU: the search reads its [rows, V] scores on the host
        log_probs = log_probs.get()
    lp = log_probs if isinstance(log_probs, np.ndarray) else np.asarray(log_probs)
    if lp.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"step_fn must return log_probs of dtype float32 or float64, got {lp.dtype} at step {step}")
    want = f"({rows}, V)" if V is None else f"({rows}, {V})"
    if lp.ndim != 2 or lp.shape[0] != rows or (V is not None and lp.shape[1] != V) or lp.shape[1] < 1:
        raise ValueError(
            f"step_fn must return log_probs of shape (N, V) = {want}, one row per row of prev_tokens and V >= 1 the "
            f"same every step, got {lp.shape} at step {step}"
        )
    lp = native(lp)
    for where, a in leaves(new_state, "state"):
        if a.ndim == 0 or a.shape[0] != rows:
            raise ValueError(
                f"step_fn must return a state whose arrays have one row per row of prev_tokens ({rows}), got "
                f"{where} of shape {a.shape} at step {step}"
            )
    return lp, new_state


def check_log_probs(log_probs: np.ndarray, step: int) -> np.ndarray:
    """Greedy's check of step_fn's values, the one beam search's kernel makes during its scan: the log-probs
    with values in (0, LOG_PROB_SLACK] (a log_softmax's rounding) read as 0; above it, or NaN, raises."""
    bad = ~(log_probs <= log_probs.dtype.type(LOG_PROB_SLACK))
    if bad.any():
        i, v = np.unravel_index(int(np.argmax(bad)), log_probs.shape)
        raise ValueError(
            f"step_fn's log_probs at step {step}: log_probs must hold log-probabilities (<= 0, not NaN; up to "
            f"{LOG_PROB_SLACK:g} above 0 is read as 0), got {float(log_probs[i, v])!r} at log_probs[{i}, {v}]"
        )
    return np.where(log_probs > 0, log_probs.dtype.type(0), log_probs)
