"""Optimizer updates: Keras's formulas (written out here in float64 as Keras's source has them), in place,
and the steps of torch.optim where its formulas coincide with Keras's (eps = 0).

The cross-backend comparison against the reference lives in test_backends_match_reference.py and the
argument checks in test_bad_input.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import ALL_BACKENDS, DTYPES, OPTIMIZERS, optimizer_state, optimizer_step, require_backend
from seqcore import kernels as K
from seqcore import use_backend

SHAPE = (4, 6)
STEPS = 4


def keras_step(variant: str, s: dict[str, np.ndarray], g: np.ndarray, step: int) -> None:
    """One step of Keras 3's optimizer code, transcribed (float64, in place on the dict's arrays)."""
    _, hp, _, _ = OPTIMIZERS[variant]
    var = s["param"]
    if variant.startswith("sgd"):
        if hp.get("momentum", 0.0) != 0.0:
            m = s["velocity"]
            m[...] = -g * hp["lr"] + m * hp["momentum"]
            if hp.get("nesterov"):
                var += -g * hp["lr"] + m * hp["momentum"]
            else:
                var += m
        else:
            var += -g * hp["lr"]
    elif variant in ("adam", "adamw", "amsgrad"):
        lr, b1, b2 = hp["lr"], hp["beta1"], hp["beta2"]
        if hp.get("weight_decay"):
            var -= var * hp["weight_decay"] * lr
        alpha = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
        m, v = s["m"], s["v"]
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        if variant == "amsgrad":
            s["vhat"][...] = np.maximum(s["vhat"], v)
            v = s["vhat"]
        var -= alpha * m / (np.sqrt(v) + hp["eps"])
    elif variant.startswith("rmsprop"):
        rho, vel = hp["rho"], s["velocity"]
        vel[...] = rho * vel + (1 - rho) * g * g
        if "mg" in s:
            s["mg"][...] = rho * s["mg"] + (1 - rho) * g
            denominator = vel - s["mg"] ** 2 + hp["eps"]
        else:
            denominator = vel + hp["eps"]
        increment = hp["lr"] * g / np.sqrt(denominator)
        if hp["momentum"] > 0:
            s["momentum_buf"][...] = hp["momentum"] * s["momentum_buf"] + increment
            var -= s["momentum_buf"]
        else:
            var -= increment
    else:
        s["accumulator"] += g * g
        var -= hp["lr"] * g / np.sqrt(s["accumulator"] + hp["eps"])


@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_keras_formulas(backend, variant):
    """Every backend, float64, several steps: param and state equal Keras's arithmetic to rounding."""
    require_backend(backend)
    rng = np.random.default_rng(31)
    ours = optimizer_state(rng, variant, np.float64, SHAPE)
    theirs = {k: v.copy() for k, v in ours.items() if v is not None}
    ids = {k: id(v) for k, v in ours.items()}
    for step in range(1, STEPS + 1):
        g = rng.standard_normal(SHAPE)
        with use_backend(backend):
            assert optimizer_step(variant, ours, g, step) is None
        keras_step(variant, theirs, g, step)
    assert {k: id(v) for k, v in ours.items()} == ids, "the arrays were replaced, not updated in place"
    for name, want in theirs.items():
        np.testing.assert_allclose(ours[name], want, rtol=1e-12, atol=1e-14, err_msg=f"{variant} [{backend}] {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_update_keeps_dtype_and_untouched_state(backend, dtype):
    """float32 stays float32; with momentum == 0 a given velocity / momentum_buf is left as it is."""
    require_backend(backend)
    rng = np.random.default_rng(32)
    p, g = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype)
    vel, buf = np.ones(7, dtype), np.full(7, 2.0, dtype)
    want = p - dtype(0.5) * g
    with use_backend(backend):
        K.sgd_update(p, g, vel, lr=0.5)
        assert p.dtype == dtype
        np.testing.assert_allclose(p, want, rtol=1e-6)
        np.testing.assert_array_equal(vel, 1.0)
        K.rmsprop_update(p, g, np.ones(7, dtype), buf, lr=0.1, rho=0.9, momentum=0.0, eps=1e-7)
        np.testing.assert_array_equal(buf, 2.0)


def test_adam_first_step_is_sign_times_lr():
    """From zero moments the first Adam step is lr * g / (|g| + eps') (bias correction), on every backend."""
    g = np.array([0.5, -2.0, 1e-3])
    for backend in ALL_BACKENDS:
        require_backend(backend)
        p, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
        with use_backend(backend):
            K.adam_update(p, g, m, v, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0, step=1)
        np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-12, err_msg=backend)


# ---------------------------------------------------------------- torch.optim (where its formulas are Keras's)

TORCH_CASES = {
    "sgd": ("SGD", {"lr": 0.1}, "sgd_update", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}, "sgd_update", {"lr": 0.1, "momentum": 0.9}),
    "sgd_nesterov": (
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        "sgd_update",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    "adam": ("Adam", {"lr": 0.01, "betas": (0.9, 0.99), "eps": 0.0}, "adam_update", {}),
    "amsgrad": ("Adam", {"lr": 0.01, "betas": (0.9, 0.99), "eps": 0.0, "amsgrad": True}, "adam_update", {}),
    "adamw": ("AdamW", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 0.0, "weight_decay": 0.1}, "adam_update", {}),
    "rmsprop": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 0.0}, "rmsprop_update", {}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 0.0, "momentum": 0.5}, "rmsprop_update", {}),
    "rmsprop_centered": (
        "RMSprop",
        {"lr": 0.01, "alpha": 0.8, "eps": 0.0, "momentum": 0.5, "centered": True},
        "rmsprop_update",
        {},
    ),
    "adagrad": ("Adagrad", {"lr": 0.1, "eps": 0.0}, "adagrad_update", {}),
}


def _ours(name: str, targs: dict, p, g, state: dict, step: int) -> None:
    """Our kernel with torch's hyper-parameters, zero-initialised state kept in ``state``."""

    def zeros():
        return np.zeros_like(p)

    if name.startswith("sgd"):
        state.setdefault("velocity", zeros())
        K.sgd_update(p, g, state["velocity"], **TORCH_CASES[name][3])
    elif name.startswith("adam") or name == "amsgrad":
        for k in ("m", "v"):
            state.setdefault(k, zeros())
        if targs.get("amsgrad"):
            state.setdefault("vhat", zeros())
        b1, b2 = targs["betas"]
        K.adam_update(
            p,
            g,
            state["m"],
            state["v"],
            lr=targs["lr"],
            beta1=b1,
            beta2=b2,
            eps=0.0,
            step=step,
            weight_decay=targs.get("weight_decay", 0.0),
            vhat=state.get("vhat"),
        )
    elif name.startswith("rmsprop"):
        for k in ("velocity", "momentum_buf") + (("mg",) if targs.get("centered") else ()):
            state.setdefault(k, zeros())
        K.rmsprop_update(
            p,
            g,
            state["velocity"],
            state["momentum_buf"],
            lr=targs["lr"],
            rho=targs["alpha"],
            momentum=targs.get("momentum", 0.0),
            eps=0.0,
            mg=state.get("mg"),
        )
    else:
        state.setdefault("accumulator", zeros())
        K.adagrad_update(p, g, state["accumulator"], lr=targs["lr"], eps=0.0)


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_matches_torch_optim(backend, name):
    torch = pytest.importorskip("torch")
    require_backend(backend)
    cls, targs, _, _ = TORCH_CASES[name]
    rng = np.random.default_rng(33)
    p0 = rng.standard_normal(SHAPE)
    tp = torch.nn.Parameter(torch.tensor(p0.copy()))
    opt = getattr(torch.optim, cls)([tp], **targs)
    p, state = p0.copy(), {}
    for step in range(1, 6):
        g = rng.standard_normal(SHAPE)
        tp.grad = torch.tensor(g.copy())
        opt.step()
        with use_backend(backend):
            _ours(name, targs, p, g, state, step)
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} step {step}")
    if name == "sgd_momentum":  # Keras's velocity is -lr times torch's momentum buffer
        buf = opt.state[tp]["momentum_buffer"].numpy()
        np.testing.assert_allclose(state["velocity"], -0.1 * buf, rtol=1e-12)
