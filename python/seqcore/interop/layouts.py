"""Weight layouts: every gate reorder and transpose between PyTorch and Keras, in one place.

seqcore layers hold Keras's layout (``seqcore.kernels``: ``x @ W + h @ U + b``, gate
blocks side by side along the last axis).  Each function here converts the weights of
one layer, one direction, with plain NumPy; it checks the shapes it is given and always
returns fresh C-contiguous arrays (never views of its arguments).

Layouts, ``torch`` <-> ``Keras``:

==============  ==============================================  =============================================
layer           torch                                           Keras / seqcore
==============  ==============================================  =============================================
LSTM            weight_ih [4H,D], weight_hh [4H,H],             kernel [D,4H], recurrent_kernel [H,4H],
                bias_ih [4H], bias_hh [4H]; gates i, f, g, o    bias [4H] = bias_ih + bias_hh; gates i, f, c, o
GRU             weight_ih [3H,D], weight_hh [3H,H],             kernel [D,3H], recurrent_kernel [H,3H],
                bias_ih [3H], bias_hh [3H]; gates r, z, n       bias [2,3H] (input, recurrent); gates z, r, h
                (always reset_after)                            (reset_after=True)
RNN (tanh)      weight_ih [H,D], weight_hh [H,H], biases [H]    SimpleRNN kernel [D,H], recurrent_kernel [H,H],
                                                                bias [H] = bias_ih + bias_hh
Linear          weight [out,in], bias [out]                     Dense kernel [in,out], bias [out]
Conv1d          weight [F,C,K], bias [F]                        Conv1D kernel [K,C,F], bias [F]
Embedding       weight [V,E]                                    embeddings [V,E]
LayerNorm       weight, bias                                    gamma, beta
BatchNorm1d     weight, bias, running_mean, running_var         gamma, beta, moving_mean, moving_variance
==============  ==============================================  =============================================

Notes:

- torch's LSTM gate ``g`` is Keras's cell candidate ``c``: the LSTM blocks need no reorder.
- torch keeps two bias vectors for LSTM and RNN where Keras keeps their sum.  Importing adds
  them; exporting puts the whole bias in ``bias_ih`` and zeros in ``bias_hh`` (same outputs).
- torch's GRU always applies the reset gate after the recurrent product (Keras
  ``reset_after=True``, bias [2,3H]).  A Keras GRU with ``reset_after=False`` (bias [3H])
  has no torch equivalent; exporting one raises ``ValueError``.
- BatchNorm: torch updates ``running_var`` with the *unbiased* batch variance (divided by
  n - 1), Keras updates ``moving_variance`` with the *biased* one (divided by n).  Both are
  used the same way at inference, so the values are copied as they are in both directions;
  only further training would drift slightly differently.
- Only weights are converted.  Hyperparameters (epsilons, momentum, padding, stride,
  dilation, activations, a torch RNN's ``nonlinearity``) must match by construction.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._common import to_numpy

__all__ = [
    "KERAS_GRU_GATES",
    "TORCH_GRU_GATES",
    "batch_norm_from_torch",
    "batch_norm_to_torch",
    "conv1d_from_torch",
    "conv1d_to_torch",
    "embedding_from_torch",
    "embedding_to_torch",
    "gru_from_torch",
    "gru_gates_keras_to_torch",
    "gru_gates_torch_to_keras",
    "gru_to_torch",
    "layer_norm_from_torch",
    "layer_norm_to_torch",
    "linear_from_torch",
    "linear_to_torch",
    "lstm_from_torch",
    "lstm_to_torch",
    "reorder_gate_blocks",
    "rnn_from_torch",
    "rnn_to_torch",
]

Array = np.ndarray
OptArray = Optional[np.ndarray]

TORCH_GRU_GATES = "rzn"
"""torch.nn.GRU gate blocks: reset, update, new (candidate)."""
KERAS_GRU_GATES = "zrn"
"""Keras / seqcore GRU gate blocks: update z, reset r, candidate h (written ``n`` to share torch's letter)."""


# ---------------------------------------------------------------- helpers


def _array(name: str, value: Any, ndim: int) -> Array:
    """``value`` as a NumPy array with ``ndim`` dimensions (a tensor's ``.numpy()`` is taken when present)."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    arr = to_numpy(value)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension{'s' if ndim != 1 else ''}, got shape {arr.shape}")
    return arr


def _expect(name: str, arr: Array, expected: tuple[int, ...], letters: str) -> None:
    if arr.shape != expected:
        raise ValueError(f"{name} must have shape {letters} = {expected}, got {arr.shape}")


def _copy(arr: Array) -> Array:
    return np.array(arr, copy=True, order="C")


def _gate_width(name: str, rows: int, gates: int) -> int:
    if rows % gates:
        block = f"{gates}H" if gates > 1 else "H"
        raise ValueError(f"{name} must have {block} = a multiple of {gates} along the gate axis, got {rows}")
    return rows // gates


def reorder_gate_blocks(a: Any, src: str, dst: str, axis: int = -1) -> Array:
    """Permute the equal gate blocks of ``a`` along ``axis`` from order ``src`` to order ``dst``.

    ``src`` and ``dst`` name one gate per letter and hold the same letters, e.g.
    ``reorder_gate_blocks(b, "rzn", "zrn")`` turns torch's GRU bias into Keras's.
    """
    a = np.asarray(a)
    if sorted(src) != sorted(dst) or len(set(src)) != len(src):
        raise ValueError(f"src and dst must be permutations of the same distinct gate letters, got {src!r}, {dst!r}")
    n = len(src)
    if a.ndim == 0 or a.shape[axis] % n:
        raise ValueError(f"axis {axis} of shape {a.shape} does not split into {n} gate blocks ({src!r})")
    blocks = dict(zip(src, np.split(a, n, axis=axis)))
    return np.ascontiguousarray(np.concatenate([blocks[g] for g in dst], axis=axis))


def gru_gates_torch_to_keras(a: Any, axis: int = -1) -> Array:
    """torch GRU gate blocks r, z, n along ``axis`` -> Keras z, r, h."""
    return reorder_gate_blocks(a, TORCH_GRU_GATES, KERAS_GRU_GATES, axis)


def gru_gates_keras_to_torch(a: Any, axis: int = -1) -> Array:
    """Keras GRU gate blocks z, r, h along ``axis`` -> torch r, z, n."""
    return reorder_gate_blocks(a, KERAS_GRU_GATES, TORCH_GRU_GATES, axis)


def _torch_recurrent(weight_ih: Any, weight_hh: Any, bias_ih: Any, bias_hh: Any, gates: int):
    """Checked torch recurrent weights; absent biases become zeros.  Returns (w_ih, w_hh, b_ih, b_hh, H)."""
    block = f"{gates}H" if gates > 1 else "H"
    w_hh = _array("weight_hh", weight_hh, 2)
    H = _gate_width("weight_hh", w_hh.shape[0], gates)
    _expect("weight_hh", w_hh, (gates * H, H), f"({block}, H)")
    w_ih = _array("weight_ih", weight_ih, 2)
    if w_ih.shape[0] != gates * H:
        raise ValueError(f"weight_ih must have shape ({block}, D) = ({gates * H}, D), got {w_ih.shape}")
    dt = np.result_type(w_ih, w_hh)
    biases = []
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is None:
            biases.append(np.zeros(gates * H, dt))
        else:
            b = _array(name, b, 1)
            _expect(name, b, (gates * H,), f"({block},)")
            biases.append(b)
    return w_ih, w_hh, biases[0], biases[1], H


def _keras_recurrent(kernel: Any, recurrent_kernel: Any, gates: int) -> tuple[Array, Array, int]:
    """Checked Keras kernel [D,G*H] and recurrent_kernel [H,G*H], with H read off the latter."""
    block = f"{gates}H" if gates > 1 else "H"
    U = _array("recurrent_kernel", recurrent_kernel, 2)
    H = U.shape[0]
    _expect("recurrent_kernel", U, (H, gates * H), f"(H, {block})")
    W = _array("kernel", kernel, 2)
    if W.shape[1] != gates * H:
        raise ValueError(f"kernel must have shape (D, {block}) = (D, {gates * H}), got {W.shape}")
    return W, U, H


# ---------------------------------------------------------------- LSTM


def lstm_from_torch(
    weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None
) -> tuple[Array, Array, Array]:
    """torch LSTM (one layer, one direction) -> Keras (kernel [D,4H], recurrent_kernel [H,4H], bias [4H]).

    Gate order i, f, g, o is Keras's i, f, c, o, so only transposes are needed; the bias is
    ``bias_ih + bias_hh`` (an absent bias counts as zeros, as with ``bias=False``).
    """
    w_ih, w_hh, b_ih, b_hh, _ = _torch_recurrent(weight_ih, weight_hh, bias_ih, bias_hh, 4)
    return _copy(w_ih.T), _copy(w_hh.T), b_ih + b_hh


def lstm_to_torch(kernel: Any, recurrent_kernel: Any, bias: Any = None) -> tuple[Array, Array, OptArray, OptArray]:
    """Keras LSTM -> torch (weight_ih [4H,D], weight_hh [4H,H], bias_ih [4H], bias_hh [4H]).

    The whole bias goes to ``bias_ih``; ``bias_hh`` is zeros.  Without a bias both are None.
    """
    W, U, H = _keras_recurrent(kernel, recurrent_kernel, 4)
    if bias is None:
        return _copy(W.T), _copy(U.T), None, None
    b = _array("bias", bias, 1)
    _expect("bias", b, (4 * H,), "(4H,)")
    return _copy(W.T), _copy(U.T), _copy(b), np.zeros_like(b)


# ---------------------------------------------------------------- GRU


def gru_from_torch(
    weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None
) -> tuple[Array, Array, Array]:
    """torch GRU -> Keras GRU with ``reset_after=True``: (kernel [D,3H], recurrent_kernel [H,3H], bias [2,3H]).

    Gate blocks r, z, n become z, r, h; bias row 0 is the input bias, row 1 the recurrent bias.
    """
    w_ih, w_hh, b_ih, b_hh, _ = _torch_recurrent(weight_ih, weight_hh, bias_ih, bias_hh, 3)
    kernel = gru_gates_torch_to_keras(w_ih.T)
    recurrent = gru_gates_torch_to_keras(w_hh.T)
    bias = np.stack([gru_gates_torch_to_keras(b_ih), gru_gates_torch_to_keras(b_hh)])
    return kernel, recurrent, bias


def gru_to_torch(
    kernel: Any, recurrent_kernel: Any, bias: Any = None, *, reset_after: bool = True
) -> tuple[Array, Array, OptArray, OptArray]:
    """Keras GRU (``reset_after=True``, bias [2,3H]) -> torch (weight_ih, weight_hh, bias_ih, bias_hh).

    Raises ValueError for ``reset_after=False`` (bias [3H]): torch.nn.GRU cannot express it.
    """
    W, U, H = _keras_recurrent(kernel, recurrent_kernel, 3)
    b = None if bias is None else np.asarray(bias)
    if not reset_after or (b is not None and b.ndim == 1):
        shape = "" if b is None else f" (bias shape {b.shape})"
        raise ValueError(
            f"a GRU with reset_after=False{shape} has no torch equivalent: torch.nn.GRU always applies the "
            "reset gate after the recurrent product, which is Keras's reset_after=True (bias (2, 3H))"
        )
    w_ih = gru_gates_keras_to_torch(W.T, axis=0)
    w_hh = gru_gates_keras_to_torch(U.T, axis=0)
    if b is None:
        return w_ih, w_hh, None, None
    b = _array("bias", b, 2)
    _expect("bias", b, (2, 3 * H), "(2, 3H)")
    return w_ih, w_hh, gru_gates_keras_to_torch(b[0]), gru_gates_keras_to_torch(b[1])


# ---------------------------------------------------------------- basic (tanh) RNN


def rnn_from_torch(
    weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None
) -> tuple[Array, Array, Array]:
    """torch RNN (tanh) -> Keras SimpleRNN (kernel [D,H], recurrent_kernel [H,H], bias [H] = bias_ih + bias_hh)."""
    w_ih, w_hh, b_ih, b_hh, _ = _torch_recurrent(weight_ih, weight_hh, bias_ih, bias_hh, 1)
    return _copy(w_ih.T), _copy(w_hh.T), b_ih + b_hh


def rnn_to_torch(kernel: Any, recurrent_kernel: Any, bias: Any = None) -> tuple[Array, Array, OptArray, OptArray]:
    """Keras SimpleRNN -> torch RNN (weight_ih [H,D], weight_hh [H,H], bias_ih = bias, bias_hh = zeros)."""
    W, U, H = _keras_recurrent(kernel, recurrent_kernel, 1)
    if bias is None:
        return _copy(W.T), _copy(U.T), None, None
    b = _array("bias", bias, 1)
    _expect("bias", b, (H,), "(H,)")
    return _copy(W.T), _copy(U.T), _copy(b), np.zeros_like(b)


# ---------------------------------------------------------------- feed-forward layers


def _optional_vector(name: str, value: Any, size: int, letters: str) -> OptArray:
    if value is None:
        return None
    v = _array(name, value, 1)
    _expect(name, v, (size,), letters)
    return _copy(v)


def linear_from_torch(weight: Any, bias: Any = None) -> tuple[Array, OptArray]:
    """torch Linear (weight [out,in], bias [out]) -> Keras Dense (kernel [in,out], bias [out] or None)."""
    w = _array("weight", weight, 2)
    return _copy(w.T), _optional_vector("bias", bias, w.shape[0], "(out,)")


def linear_to_torch(kernel: Any, bias: Any = None) -> tuple[Array, OptArray]:
    """Keras Dense (kernel [in,out], bias [out]) -> torch Linear (weight [out,in], bias [out] or None)."""
    k = _array("kernel", kernel, 2)
    return _copy(k.T), _optional_vector("bias", bias, k.shape[1], "(out,)")


def conv1d_from_torch(weight: Any, bias: Any = None) -> tuple[Array, OptArray]:
    """torch Conv1d (weight [F,C,K], bias [F]) -> Keras Conv1D (kernel [K,C,F], bias [F] or None).

    Both compute a cross-correlation, so the taps are not flipped.
    """
    w = _array("weight", weight, 3)
    return _copy(w.transpose(2, 1, 0)), _optional_vector("bias", bias, w.shape[0], "(F,)")


def conv1d_to_torch(kernel: Any, bias: Any = None) -> tuple[Array, OptArray]:
    """Keras Conv1D (kernel [K,C,F], bias [F]) -> torch Conv1d (weight [F,C,K], bias [F] or None)."""
    k = _array("kernel", kernel, 3)
    return _copy(k.transpose(2, 1, 0)), _optional_vector("bias", bias, k.shape[2], "(F,)")


def embedding_from_torch(weight: Any) -> Array:
    """torch Embedding weight [V,E] -> Keras embeddings [V,E] (same layout)."""
    return _copy(_array("weight", weight, 2))


def embedding_to_torch(embeddings: Any) -> Array:
    """Keras embeddings [V,E] -> torch Embedding weight [V,E] (same layout)."""
    return _copy(_array("embeddings", embeddings, 2))


def layer_norm_from_torch(weight: Any, bias: Any = None) -> tuple[Array, Array]:
    """torch LayerNorm over the last axis (weight [F], bias [F]) -> Keras (gamma [F], beta [F]).

    An absent bias (``bias=False``) becomes zeros.
    """
    w = _array("weight", weight, 1)
    b = _optional_vector("bias", bias, w.shape[0], "(F,)")
    return _copy(w), np.zeros_like(w) if b is None else b


def layer_norm_to_torch(gamma: Any, beta: Any) -> tuple[Array, Array]:
    """Keras LayerNormalization (gamma [F], beta [F]) -> torch LayerNorm (weight [F], bias [F])."""
    g = _array("gamma", gamma, 1)
    b = _optional_vector("beta", beta, g.shape[0], "(F,)")
    return _copy(g), b  # type: ignore[return-value]


def batch_norm_from_torch(
    weight: Any, bias: Any, running_mean: Any, running_var: Any
) -> tuple[Array, Array, Array, Array]:
    """torch BatchNorm1d -> Keras BatchNormalization (gamma, beta, moving_mean, moving_variance), each [F].

    Values are copied as is: torch's ``running_var`` tracks the unbiased batch variance,
    Keras's ``moving_variance`` the biased one; inference uses both the same way.
    """
    w = _array("weight", weight, 1)
    F = w.shape[0]
    out = [_copy(w)]
    for name, v in (("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if v is None:
            raise TypeError(f"{name} must be an array, got None")
        out.append(_optional_vector(name, v, F, "(F,)"))
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]


def batch_norm_to_torch(
    gamma: Any, beta: Any, moving_mean: Any, moving_variance: Any
) -> tuple[Array, Array, Array, Array]:
    """Keras BatchNormalization -> torch BatchNorm1d (weight, bias, running_mean, running_var), each [F].

    Values are copied as is (see ``batch_norm_from_torch`` on the two variance conventions).
    """
    g = _array("gamma", gamma, 1)
    F = g.shape[0]
    out = [_copy(g)]
    for name, v in (("beta", beta), ("moving_mean", moving_mean), ("moving_variance", moving_variance)):
        if v is None:
            raise TypeError(f"{name} must be an array, got None")
        out.append(_optional_vector(name, v, F, "(F,)"))
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]
