"""seqcore against PyTorch (float64): LSTM / GRU / RNN(tanh), packed sequences, reverse, softmax family.

Weights are converted to the Keras layout seqcore uses: W = weight_ih.T, U = weight_hh.T; torch's LSTM
gate order i, f, g, o is Keras's; torch's GRU order r, z, n becomes Keras's z, r, h.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import FAST_BACKENDS, require_backend
from seqcore import kernels as K
from seqcore import use_backend

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional
rnn_utils = torch.nn.utils.rnn

BACKENDS = ["reference", *FAST_BACKENDS]
KINDS = ["lstm", "gru", "rnn"]
RTOL, ATOL = 1e-9, 1e-11  # float64; torch and seqcore sum in different orders


def close(actual, expected, what):
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.dtype == np.float64, f"{what}: dtype {actual.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _gru_order(a: np.ndarray, H: int) -> np.ndarray:
    """torch r, z, n blocks along the last axis -> Keras z, r, h."""
    r, z, n = a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]
    return np.concatenate([z, r, n], axis=-1)


def make_torch(kind: str, D: int, H: int, seed: int, bidirectional: bool = False):
    torch.manual_seed(seed)
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
    extra = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    module = cls(D, H, batch_first=True, bidirectional=bidirectional, **extra).double()
    with torch.no_grad():  # biases large enough to matter, distinct in ih and hh
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.copy_(0.3 * torch.randn_like(p))
    return module


def keras_weights(module, kind: str, H: int, suffix: str = ""):
    """(W, U, b) in seqcore's layout from one direction of a torch module."""
    w_ih = getattr(module, f"weight_ih_l0{suffix}").detach().numpy()
    w_hh = getattr(module, f"weight_hh_l0{suffix}").detach().numpy()
    b_ih = getattr(module, f"bias_ih_l0{suffix}").detach().numpy()
    b_hh = getattr(module, f"bias_hh_l0{suffix}").detach().numpy()
    W, U = w_ih.T.copy(), w_hh.T.copy()
    if kind == "gru":
        return _gru_order(W, H), _gru_order(U, H), np.stack([_gru_order(b_ih, H), _gru_order(b_hh, H)])
    return W, U, b_ih + b_hh


def keras_grads(module, kind: str, H: int, suffix: str = ""):
    """(dW, dU, db) in seqcore's layout from the autograd gradients of one direction."""
    g_ih = getattr(module, f"weight_ih_l0{suffix}").grad.numpy()
    g_hh = getattr(module, f"weight_hh_l0{suffix}").grad.numpy()
    gb_ih = getattr(module, f"bias_ih_l0{suffix}").grad.numpy()
    gb_hh = getattr(module, f"bias_hh_l0{suffix}").grad.numpy()
    if kind == "gru":
        return _gru_order(g_ih.T, H), _gru_order(g_hh.T, H), np.stack([_gru_order(gb_ih, H), _gru_order(gb_hh, H)])
    np.testing.assert_allclose(gb_ih, gb_hh, rtol=1e-12, atol=1e-14)  # b = b_ih + b_hh: both get db
    return g_ih.T, g_hh.T, gb_ih


NAMES = ("y", "hT", "cT", "dx", "dh0", "dc0", "dW", "dU", "db")


def run_seqcore(kind, backend, x, h0, c0, W, U, b, lengths, reverse, dy, dhT, dcT) -> dict:
    """Forward and backward on seqcore, by name (cT, dc0 only for the LSTM)."""
    with use_backend(backend):
        if kind == "lstm":
            y, hT, cT, cache = K.lstm_forward(x, h0, c0, W, U, b, lengths=lengths, reverse=reverse)
            dx, dh0, dc0, dW, dU, db = K.lstm_backward(cache, dy, dhT, dcT)
            return dict(zip(NAMES, (y, hT, cT, dx, dh0, dc0, dW, dU, db)))
        fwd, bwd = (K.gru_forward, K.gru_backward) if kind == "gru" else (K.rnn_forward, K.rnn_backward)
        y, hT, cache = fwd(x, h0, W, U, b, lengths=lengths, reverse=reverse)
        dx, dh0, dW, dU, db = bwd(cache, dy, dhT)
        return {"y": y, "hT": hT, "dx": dx, "dh0": dh0, "dW": dW, "dU": dU, "db": db}


def run_torch(module, kind, H, x, h0, c0, lengths, dy, dhT, dcT) -> dict:
    """Forward + autograd of J = <dy, y> + <dhT, hT> (+ <dcT, cT>), packed when lengths is given, by name."""
    module.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    state = (h0t, c0t) if kind == "lstm" else h0t
    T = x.shape[1]
    if lengths is None:
        out, final = module(xt, state)
    else:
        packed = rnn_utils.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, final = module(packed, state)
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=T)
    hT = final[0][0] if kind == "lstm" else final[0]
    J = (out * torch.tensor(dy)).sum() + (hT * torch.tensor(dhT)).sum()
    if kind == "lstm":
        J = J + (final[1][0] * torch.tensor(dcT)).sum()
    J.backward()
    res = {"y": out, "hT": hT, "dx": xt.grad, "dh0": h0t.grad[0]}
    if kind == "lstm":
        res.update(cT=final[1][0], dc0=c0t.grad[0])
    res.update(zip(("dW", "dU", "db"), keras_grads(module, kind, H)))
    return {k: v.detach().numpy() if isinstance(v, torch.Tensor) else v for k, v in res.items()}


def random_problem(B, T, D, H, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D))
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    dy, dhT, dcT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return x, h0, c0, dy, dhT, dcT


def compare(ours: dict, theirs: dict, what: str) -> None:
    assert sorted(ours) == sorted(theirs), (sorted(ours), sorted(theirs))
    for name in NAMES:
        if name in ours:
            close(ours[name], theirs[name], f"{what}: {name}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_full_sequences(backend, kind):
    require_backend(backend)
    B, T, D, H = 4, 6, 5, 7
    module = make_torch(kind, D, H, seed=1)
    W, U, b = keras_weights(module, kind, H)
    x, h0, c0, dy, dhT, dcT = random_problem(B, T, D, H, seed=1)
    ours = run_seqcore(kind, backend, x, h0, c0, W, U, b, None, False, dy, dhT, dcT)
    theirs = run_torch(module, kind, H, x, h0, c0, None, dy, dhT, dcT)
    compare(ours, theirs, f"{kind} [{backend}] vs torch")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_lengths(backend, kind):
    """seqcore's lengths = torch's pack_padded_sequence(enforce_sorted=False); zero-length rows keep h0."""
    require_backend(backend)
    B, T, D, H = 6, 7, 4, 5
    lengths = np.array([3, 7, 0, 1, 5, 7])
    module = make_torch(kind, D, H, seed=2)
    W, U, b = keras_weights(module, kind, H)
    x, h0, c0, dy, dhT, dcT = random_problem(B, T, D, H, seed=2)
    ours = run_seqcore(kind, backend, x, h0, c0, W, U, b, lengths, False, dy, dhT, dcT)

    live = lengths > 0  # torch cannot pack an empty row: run it on the others
    theirs = run_torch(module, kind, H, x[live], h0[live], c0[live], lengths[live], dy[live], dhT[live], dcT[live])
    per_row = ("y", "hT", "cT", "dx", "dh0", "dc0")
    compare({k: v[live] if k in per_row else v for k, v in ours.items()}, theirs, f"{kind} [{backend}] packed")
    dead = ~live
    np.testing.assert_array_equal(ours["y"][dead], 0.0)
    np.testing.assert_array_equal(ours["hT"][dead], h0[dead])
    np.testing.assert_array_equal(ours["dx"][dead], 0.0)
    np.testing.assert_array_equal(ours["dh0"][dead], dhT[dead])
    if kind == "lstm":
        np.testing.assert_array_equal(ours["cT"][dead], c0[dead])
        np.testing.assert_array_equal(ours["dc0"][dead], dcT[dead])


def _flip_valid(a: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse each row's first lengths[b] steps, leave its padding in place."""
    out = a.copy()
    for row, L in enumerate(lengths):
        out[row, :L] = a[row, :L][::-1]
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_reverse_is_flipped_valid_part(backend, kind):
    """reverse=True equals torch on each row's valid part flipped, with outputs flipped back."""
    require_backend(backend)
    B, T, D, H = 5, 6, 3, 4
    lengths = np.array([6, 2, 4, 1, 6])
    module = make_torch(kind, D, H, seed=3)
    W, U, b = keras_weights(module, kind, H)
    x, h0, c0, dy, dhT, dcT = random_problem(B, T, D, H, seed=3)
    ours = run_seqcore(kind, backend, x, h0, c0, W, U, b, lengths, True, dy, dhT, dcT)
    theirs = run_torch(module, kind, H, _flip_valid(x, lengths), h0, c0, lengths, _flip_valid(dy, lengths), dhT, dcT)
    theirs["y"] = _flip_valid(theirs["y"], lengths)
    theirs["dx"] = _flip_valid(theirs["dx"], lengths)
    compare(ours, theirs, f"{kind} [{backend}] reverse")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_reverse_matches_bidirectional_layout(backend, kind):
    """The reverse direction of torch's bidirectional packed RNN is seqcore's reverse=True, same time layout."""
    require_backend(backend)
    B, T, D, H = 4, 5, 3, 4
    lengths = np.array([5, 3, 1, 4])
    module = make_torch(kind, D, H, seed=4, bidirectional=True)
    x = np.random.default_rng(4).standard_normal((B, T, D))
    packed = rnn_utils.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    with torch.no_grad():
        out, final = module(packed)
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=T)
    h_final = (final[0] if kind == "lstm" else final).numpy()
    out = out.numpy()
    zeros = np.zeros((B, H))
    for direction, suffix, reverse in ((0, "", False), (1, "_reverse", True)):
        W, U, b = keras_weights(module, kind, H, suffix)
        ours = run_seqcore(kind, backend, x, zeros, zeros, W, U, b, lengths, reverse, None, None, None)
        what = f"{kind} [{backend}] bidirectional direction {direction}"
        close(ours["y"], out[..., direction * H : (direction + 1) * H], f"{what}: y")
        close(ours["hT"], h_final[direction], f"{what}: hT")


# ---------------------------------------------------------------- softmax family


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_family(backend, shape):
    require_backend(backend)
    rng = np.random.default_rng(5)
    x, dy = 4.0 * rng.standard_normal(shape), rng.standard_normal(shape)
    for ours_f, ours_b, theirs in (
        (K.softmax, K.softmax_backward, torch.softmax),
        (K.log_softmax, K.log_softmax_backward, torch.log_softmax),
    ):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt, -1)
        (yt * torch.tensor(dy)).sum().backward()
        with use_backend(backend):
            y = ours_f(x)
            dx = ours_b(y, dy)
        close(y, yt, f"{theirs.__name__} [{backend}]")
        close(dx, xt.grad, f"{theirs.__name__} backward [{backend}]")


@pytest.mark.parametrize("target", ["sparse", "probabilities", "unnormalized"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy(backend, target):
    require_backend(backend)
    rng = np.random.default_rng(6)
    N, C = 8, 6
    logits, dloss = 3.0 * rng.standard_normal((N, C)), rng.standard_normal(N)
    if target == "sparse":
        labels = rng.integers(0, C, size=N)
        tlabels = torch.tensor(labels)
    else:
        p = rng.uniform(0.0, 1.0, size=(N, C))
        labels = p / p.sum(axis=-1, keepdims=True) if target == "probabilities" else 2.0 * p
        tlabels = torch.tensor(labels)
    lt = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(lt, tlabels, reduction="none")
    (loss_t * torch.tensor(dloss)).sum().backward()
    with use_backend(backend):
        loss, cache = K.softmax_cross_entropy(logits, labels)
        dlogits = K.softmax_cross_entropy_backward(cache, dloss)
    close(loss, loss_t, f"cross_entropy [{backend}] {target}")
    close(dlogits, lt.grad, f"cross_entropy backward [{backend}] {target}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_sequence_shape(backend):
    """[B,T,C] logits with [B,T] ids: torch wants the class axis second."""
    require_backend(backend)
    rng = np.random.default_rng(7)
    logits, labels = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, size=(3, 4))
    loss_t = F.cross_entropy(torch.tensor(logits).permute(0, 2, 1), torch.tensor(labels), reduction="none")
    with use_backend(backend):
        loss, _ = K.softmax_cross_entropy(logits, labels)
    close(loss, loss_t, f"cross_entropy [{backend}] [B,T,C]")


# ---------------------------------------------------------------- embedding


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding(backend):
    require_backend(backend)
    rng = np.random.default_rng(41)
    weights, ids = rng.standard_normal((9, 4)), rng.integers(0, 9, size=(3, 7))
    dy = rng.standard_normal((3, 7, 4))
    tw = torch.tensor(weights, requires_grad=True)
    ty = F.embedding(torch.tensor(ids), tw)
    ty.backward(torch.tensor(dy))
    with use_backend(backend):
        close(K.embedding_forward(weights, ids), ty, "embedding y")
        close(K.embedding_backward(ids, dy, 9), tw.grad, "embedding dW")


# ---------------------------------------------------------------- normalization


def _norm_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    F = shape[-1]
    return (
        3.0 + 2.0 * rng.standard_normal(shape),
        1.0 + 0.5 * rng.standard_normal(F),
        rng.standard_normal(F),
        rng.standard_normal(shape),
    )


@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 3), (7,)], ids=["2d", "3d", "1d"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_norm(backend, shape):
    require_backend(backend)
    x, gamma, beta, dy = _norm_inputs(shape, 42)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ty = F.layer_norm(tx, (shape[-1],), tg, tb, eps=1e-5)
    ty.backward(torch.tensor(dy))
    with use_backend(backend):
        y, cache = K.layer_norm_forward(x, gamma, beta, eps=1e-5)
        dx, dgamma, dbeta = K.layer_norm_backward(cache, dy)
    for name, got, want in (("y", y, ty), ("dx", dx, tx.grad), ("dgamma", dgamma, tg.grad), ("dbeta", dbeta, tb.grad)):
        close(got, want, f"layer_norm {shape} {name}")
    var, mean = torch.var_mean(torch.tensor(x), dim=-1, unbiased=False)
    close(cache.mean, mean.reshape(-1), "layer_norm mean")
    close(cache.rstd, (1.0 / torch.sqrt(var + 1e-5)).reshape(-1), "layer_norm rstd")


@pytest.mark.parametrize("shape", [(8, 5), (3, 6, 4), (1, 2, 3)], ids=["2d", "3d", "N2"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm(backend, shape):
    """torch.nn.functional.batch_norm in training mode, features moved from the last axis to dim 1."""
    require_backend(backend)
    x, gamma, beta, dy = _norm_inputs(shape, 43)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    to_torch = (lambda a: a) if len(shape) == 2 else (lambda a: a.transpose(1, -1))  # [B,T,F] -> [B,F,T]
    running_mean, running_var = torch.zeros(shape[-1], dtype=torch.float64), torch.ones(shape[-1], dtype=torch.float64)
    ty = to_torch(F.batch_norm(to_torch(tx), running_mean, running_var, tg, tb, training=True, momentum=1.0, eps=1e-3))
    ty.backward(torch.tensor(dy))
    with use_backend(backend):
        y, mean, var, cache = K.batch_norm_forward(x, gamma, beta, eps=1e-3)
        dx, dgamma, dbeta = K.batch_norm_backward(cache, dy)
    for name, got, want in (("y", y, ty), ("dx", dx, tx.grad), ("dgamma", dgamma, tg.grad), ("dbeta", dbeta, tb.grad)):
        close(got, want, f"batch_norm {shape} {name}")
    n = x.size // shape[-1]
    close(mean, running_mean, "batch_norm mean")  # momentum=1: the running stats are the batch's
    close(var * n / (n - 1), running_var, "batch_norm var (torch keeps the unbiased one)")


# ---------------------------------------------------------------- Conv1D


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize(
    ("stride", "padding", "dilation"), [(1, (0, 0), 1), (2, (1, 1), 1), (1, (3, 0), 2), (3, (2, 4), 2)], ids=str
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_conv1d(backend, stride, padding, dilation, bias):
    """torch.nn.functional.conv1d on [B,C,T] with weight [F,C,K]; asymmetric padding through F.pad."""
    require_backend(backend)
    rng = np.random.default_rng(44)
    x, W, b = rng.standard_normal((3, 11, 4)), rng.standard_normal((3, 4, 5)), rng.standard_normal(5)
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    xt = F.pad(tx.permute(0, 2, 1), padding)
    ty = F.conv1d(xt, tW.permute(2, 1, 0), tb if bias else None, stride=stride, dilation=dilation).permute(0, 2, 1)
    dy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(dy))
    with use_backend(backend):
        y, cache = K.conv1d_forward(x, W, b if bias else None, stride=stride, padding=padding, dilation=dilation)
        dx, dW, db = K.conv1d_backward(cache, dy)
    close(y, ty, "conv1d y")
    close(dx, tx.grad, "conv1d dx")
    close(dW, tW.grad, "conv1d dW")
    if bias:
        close(db, tb.grad, "conv1d db")
    else:
        assert db is None
