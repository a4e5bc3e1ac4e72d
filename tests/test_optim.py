"""seqcore.optim against Keras 3's optimizer formulas (a NumPy re-implementation here), keras 3 itself and,
where the formulas coincide, torch.optim; clipping, schedules, state round trips and bad input.

Learning rates are powers of two where Keras is compared in float64: Keras keeps a float learning rate in a
float32 variable, so only such values reach its float64 update unrounded.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any

import numpy as np
import pytest

from seqcore import optim
from seqcore.optim import schedules

# keras 3 on NumPy 2 warns from its own internals (keras/src/backend/torch/core.py); nothing of ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


class Var:
    """The variable contract: ``.data`` updated in place, ``.name``, ``.trainable``."""

    def __init__(self, data: np.ndarray, name: str, trainable: bool = True) -> None:
        self.data, self.name, self.trainable = data, name, trainable


SHAPES = [(3, 4), (5,)]
STEPS = 5

# (class name, constructor arguments); keys absent take the Keras defaults (see DEFAULTS)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"learning_rate": 2**-3}),
    ("SGD", {"learning_rate": 2**-3, "momentum": 0.9}),
    ("SGD", {"learning_rate": 2**-3, "momentum": 0.75, "nesterov": True}),
    ("Adam", {"learning_rate": 2**-5}),
    ("Adam", {"learning_rate": 2**-5, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3, "amsgrad": True}),
    ("AdamW", {"learning_rate": 2**-5, "weight_decay": 0.25}),
    ("AdamW", {"learning_rate": 2**-5, "weight_decay": 0.125, "epsilon": 1e-2, "amsgrad": True}),
    ("RMSprop", {"learning_rate": 2**-6}),
    ("RMSprop", {"learning_rate": 2**-6, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-3}),
    ("RMSprop", {"learning_rate": 2**-6, "momentum": 0.25, "centered": True}),
    ("RMSprop", {"learning_rate": 2**-6, "rho": 0.75, "centered": True, "epsilon": 1e-2}),
    ("Adagrad", {"learning_rate": 2**-4}),
    ("Adagrad", {"learning_rate": 2**-4, "initial_accumulator_value": 0.5, "epsilon": 1e-2}),
]
CASE_IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "learning_rate") for name, kw in CASES]

DEFAULTS = {
    "SGD": {"momentum": 0.0, "nesterov": False},
    "Adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, "weight_decay": 0.0},
    "AdamW": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, "weight_decay": 0.004},
    "RMSprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "Adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-7},
}


def make_problem(seed: int, dtype=np.float64, steps: int = STEPS, none_at: tuple[int, int] | None = (2, 1)):
    """Initial params and a gradient sequence; gradient ``none_at = (step, variable)`` is None."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    if none_at is not None:
        grads[none_at[0]][none_at[1]] = None
    return params, grads


def run_seqcore(opt: optim.Optimizer, params: list[np.ndarray], grads: list[list[Any]]) -> list[np.ndarray]:
    variables = [Var(p.copy(), f"layer/w{i}") for i, p in enumerate(params)]
    for step in grads:
        opt.apply_gradients(zip(step, variables))
    return [v.data for v in variables]


def numpy_keras(name: str, kw: dict[str, Any], params, grads, lr_at=None) -> list[np.ndarray]:
    """Keras 3's ``update_step`` of each optimizer, as written there, in float64 NumPy."""
    c = {**DEFAULTS[name], **kw}
    params = [p.astype(np.float64) for p in params]
    slots: list[dict[str, np.ndarray]] = [{} for _ in params]
    for it, step_grads in enumerate(grads):
        lr = lr_at(it) if lr_at else c["learning_rate"]
        t = it + 1
        for p, g, s in zip(params, step_grads, slots):
            if g is None:
                continue
            g = g.astype(np.float64)
            z = np.zeros_like(p)
            if name == "SGD":
                if c["momentum"] == 0:
                    p -= lr * g
                    continue
                m = s.setdefault("m", z)
                m[...] = m * c["momentum"] - g * lr
                p += m * c["momentum"] - g * lr if c["nesterov"] else m
            elif name in ("Adam", "AdamW"):
                p -= p * c["weight_decay"] * lr
                m, v, vh = s.setdefault("m", z), s.setdefault("v", z.copy()), s.setdefault("vh", z.copy())
                alpha = lr * np.sqrt(1 - c["beta_2"] ** t) / (1 - c["beta_1"] ** t)
                m += (g - m) * (1 - c["beta_1"])
                v += (g * g - v) * (1 - c["beta_2"])
                if c["amsgrad"]:
                    vh[...] = np.maximum(vh, v)
                    v = vh
                p -= m * alpha / (np.sqrt(v) + c["epsilon"])
            elif name == "RMSprop":
                v, mom, mg = s.setdefault("v", z), s.setdefault("mom", z.copy()), s.setdefault("mg", z.copy())
                v[...] = c["rho"] * v + (1 - c["rho"]) * g * g
                if c["centered"]:
                    mg[...] = c["rho"] * mg + (1 - c["rho"]) * g
                    denom = v - mg * mg + c["epsilon"]
                else:
                    denom = v + c["epsilon"]
                inc = lr * g / np.sqrt(denom)
                if c["momentum"] > 0:
                    mom[...] = c["momentum"] * mom + inc
                    p -= mom
                else:
                    p -= inc
            else:  # Adagrad
                a = s.setdefault("a", np.full_like(p, c["initial_accumulator_value"]))
                a += g * g
                p -= lr * g / np.sqrt(a + c["epsilon"])
    return params


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"  # tensorflow is not a test peer
    return pytest.importorskip("keras")


def run_keras(keras, name: str, kw: dict[str, Any], params, grads, dtype) -> list[np.ndarray]:
    opt = getattr(keras.optimizers, name)(**kw)
    dt = np.dtype(dtype).name
    variables = [keras.Variable(p.copy(), dtype=dt) for p in params]
    with warnings.catch_warnings():  # Keras warns about the None gradient
        warnings.simplefilter("ignore")
        for step in grads:
            tensors = [None if g is None else keras.ops.convert_to_tensor(g) for g in step]
            opt.apply_gradients(zip(tensors, variables))
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]


def assert_all_close(actual, expected, rtol, atol, what):
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}: variable {i}")


# ---------------------------------------------------------------- formulas: NumPy, keras, torch


@pytest.mark.parametrize(("name", "kw"), CASES, ids=CASE_IDS)
def test_matches_keras_formula_float64(name, kw):
    params, grads = make_problem(1)
    got = run_seqcore(getattr(optim, name)(**kw), params, grads)
    assert all(g.dtype == np.float64 for g in got)
    assert_all_close(got, numpy_keras(name, kw, params, grads), 1e-12, 1e-14, name)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_keras(keras, name, kw, dtype):
    params, grads = make_problem(2, dtype)
    got = run_seqcore(getattr(optim, name)(**kw), params, grads)
    want = run_keras(keras, name, kw, params, grads, dtype)
    tol = (1e-11, 1e-13) if dtype == np.float64 else (1e-6, 1e-6)
    assert all(g.dtype == dtype for g in got)
    assert_all_close(got, want, *tol, f"{name} vs keras")


def _torch_optimizer(torch, name: str, kw: dict[str, Any], tensors):
    """The torch.optim counterpart; epsilon is 0 where torch places it elsewhere than Keras."""
    c = {**DEFAULTS[name], **kw}
    lr = c["learning_rate"]
    if name == "SGD":
        return torch.optim.SGD(tensors, lr=lr, momentum=c["momentum"], nesterov=c["nesterov"])
    if name in ("Adam", "AdamW"):
        cls = torch.optim.AdamW if name == "AdamW" else torch.optim.Adam
        extra = {"weight_decay": c["weight_decay"]} if name == "AdamW" else {}
        return cls(tensors, lr=lr, betas=(c["beta_1"], c["beta_2"]), eps=0.0, amsgrad=c["amsgrad"], **extra)
    if name == "RMSprop":
        return torch.optim.RMSprop(
            tensors, lr=lr, alpha=c["rho"], eps=0.0, momentum=c["momentum"], centered=c["centered"]
        )
    return torch.optim.Adagrad(tensors, lr=lr, initial_accumulator_value=c["initial_accumulator_value"], eps=0.0)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=CASE_IDS)
def test_matches_torch_where_formulas_coincide(name, kw):
    """torch's SGD buffer is -velocity / lr (constant lr); with epsilon 0 torch's Adam, AdamW, RMSprop and Adagrad
    are Keras's."""
    torch = pytest.importorskip("torch")
    kw = {**kw, "epsilon": 0.0} if "epsilon" in DEFAULTS[name] else kw
    params, grads = make_problem(3, none_at=None)
    got = run_seqcore(getattr(optim, name)(**kw), params, grads)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    opt = _torch_optimizer(torch, name, kw, tensors)
    for step in grads:
        for t, g in zip(tensors, step):
            t.grad = torch.tensor(g)
        opt.step()
    assert_all_close(got, [t.detach().numpy() for t in tensors], 1e-10, 1e-12, f"{name} vs torch")


def test_float32_param_float64_grad_is_cast_and_updated_in_place():
    p = np.ones((2, 3), np.float32)
    var = Var(p, "w")
    alias = p.reshape(-1)  # a layer's reference to the same memory
    optim.SGD(0.5).apply_gradients([(np.full((2, 3), 2.0), var)])
    assert var.data is p and p.dtype == np.float32
    np.testing.assert_array_equal(alias, np.zeros(6, np.float32))


def test_lazy_slots_named_after_variables():
    opt = optim.Adam(amsgrad=True)
    assert set(opt.variables()) == {"iterations"}
    w, b = Var(np.zeros((2, 2)), "dense/kernel"), Var(np.zeros(2, np.float32), "dense/bias")
    opt.apply_gradients([(np.ones((2, 2)), w), (None, b)])
    names = set(opt.variables())
    assert names == {"iterations", "dense/kernel/momentum", "dense/kernel/velocity", "dense/kernel/velocity_hat"}
    opt.apply_gradients([(np.ones((2, 2)), w), (np.ones(2), b)])
    assert opt.variables()["dense/bias/velocity"].dtype == np.float32
    assert int(opt.variables()["iterations"]) == 2 == opt.iterations


def test_adagrad_accumulator_starts_at_initial_value():
    opt = optim.Adagrad(initial_accumulator_value=0.1)
    var = Var(np.zeros(3), "w")
    g = np.array([1.0, 2.0, 3.0])
    opt.apply_gradients([(g, var)])
    np.testing.assert_allclose(opt.variables()["w/accumulator"], 0.1 + g * g, rtol=1e-15)


def test_skips_none_gradients_and_frozen_variables():
    opt = optim.SGD(1.0)
    a, b, frozen = Var(np.zeros(2), "a"), Var(np.zeros(2), "b"), Var(np.zeros(2), "f", trainable=False)
    opt.apply_gradients([(np.ones(2), a), (None, b), (np.ones(2), frozen)])
    np.testing.assert_array_equal(a.data, [-1.0, -1.0])
    np.testing.assert_array_equal(b.data, [0.0, 0.0])
    np.testing.assert_array_equal(frozen.data, [0.0, 0.0])
    assert opt.iterations == 1
    assert opt.apply_gradients([]) == 1  # nothing given: nothing happens (Keras)
    with pytest.raises(ValueError, match="every gradient is None"):
        opt.apply_gradients([(None, a), (None, b)])
    assert opt.iterations == 1


# ---------------------------------------------------------------- clipping


def _sgd_delta(grads, **clip):
    """The step SGD(lr=1) takes: minus the (clipped) gradients; also checks the caller's arrays are unchanged."""
    kept = [g.copy() for g in grads]
    variables = [Var(np.zeros_like(g), f"v{i}") for i, g in enumerate(grads)]
    optim.SGD(1.0, **clip).apply_gradients(zip(grads, variables))
    for g, k in zip(grads, kept):
        np.testing.assert_array_equal(g, k, err_msg="the caller's gradient was modified")
    return [-v.data for v in variables]


GRADS = [np.array([3.0, 4.0]), np.array([[0.3, 0.4]]), np.array([-10.0, 0.5, 2.0])]


def test_clipnorm_clips_each_gradient_to_its_own_norm():
    got = _sgd_delta(GRADS, clipnorm=1.0)
    want = [g * min(1.0, 1.0 / np.linalg.norm(g)) for g in GRADS]
    assert_all_close(got, want, 1e-15, 0, "clipnorm")
    assert np.linalg.norm(got[1]) == pytest.approx(0.5)  # below the norm: untouched


def test_global_clipnorm_scales_all_gradients_together():
    total = math.sqrt(sum(float(np.sum(g * g)) for g in GRADS))
    got = _sgd_delta(GRADS, global_clipnorm=2.0)
    assert_all_close(got, [g * 2.0 / total for g in GRADS], 1e-15, 0, "global_clipnorm")
    assert_all_close(_sgd_delta(GRADS, global_clipnorm=100.0), GRADS, 0, 0, "global_clipnorm above the norm")


def test_clipvalue_clips_elements():
    got = _sgd_delta(GRADS, clipvalue=0.35)
    assert_all_close(got, [np.clip(g, -0.35, 0.35) for g in GRADS], 0, 0, "clipvalue")


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 0.7}, {"clipvalue": 0.1}])
def test_clipping_matches_keras(keras, clip):
    kw = {"learning_rate": 2**-4, "momentum": 0.5, **clip}
    params, grads = make_problem(4, none_at=None)
    got = run_seqcore(optim.SGD(**kw), params, grads)
    want = run_keras(keras, "SGD", kw, params, grads, np.float64)
    assert_all_close(got, want, 1e-6, 1e-8, str(clip))  # Keras rounds the thresholds to float32


def test_clipping_arguments_exclusive():
    with pytest.raises(ValueError, match="clipnorm and global_clipnorm"):
        optim.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="clipnorm: expected None or a positive float, got -1"):
        optim.SGD(clipnorm=-1)


# ---------------------------------------------------------------- schedules

KERAS_SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.2, "decay_steps": 2, "decay_rate": 0.7}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.2, "decay_steps": 2, "decay_rate": 0.7, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [2, 5, 9], "values": [1.0, 0.5, 0.25, 0.125]}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 8, "warmup_target": 0.2, "warmup_steps": 4}),
]


@pytest.mark.parametrize(("name", "kw"), KERAS_SCHEDULES, ids=[n for n, _ in KERAS_SCHEDULES])
def test_schedules_match_keras(keras, name, kw):
    ours, theirs = getattr(schedules, name)(**kw), getattr(keras.optimizers.schedules, name)(**kw)
    for step in range(16):
        want = float(keras.ops.convert_to_numpy(theirs(step)))
        assert ours(step) == pytest.approx(want, rel=1e-6, abs=1e-8), f"{name} at step {step}"  # Keras: float32
    assert getattr(optim, name) is type(ours)  # re-exported


def test_optimizer_evaluates_schedule_at_zero_based_iterations(keras):
    kw = {"initial_learning_rate": 0.5, "decay_steps": 2, "decay_rate": 0.25}
    params, grads = make_problem(5, none_at=None)
    got = run_seqcore(optim.Adam(learning_rate=optim.ExponentialDecay(**kw)), params, grads)
    lr_at = optim.ExponentialDecay(**kw)
    assert_all_close(got, numpy_keras("Adam", {}, params, grads, lr_at=lr_at), 1e-12, 1e-14, "numpy")
    sched = keras.optimizers.schedules.ExponentialDecay(**kw)
    assert_all_close(
        got, run_keras(keras, "Adam", {"learning_rate": sched}, params, grads, np.float64), 1e-6, 1e-7, "keras"
    )


def test_learning_rate_property_and_setter():
    opt = optim.SGD(learning_rate=optim.PiecewiseConstantDecay([1], [1.0, 0.5]))
    var = Var(np.zeros(1), "w")
    seen = []
    for _ in range(3):
        seen.append(opt.learning_rate)
        opt.apply_gradients([(np.ones(1), var)])
    assert seen == [1.0, 1.0, 0.5]  # iterations 0 and 1 are <= the boundary 1
    np.testing.assert_array_equal(var.data, [-2.5])
    opt.learning_rate = 0.25
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="learning_rate: expected a non-negative float or a LearningRateSchedule"):
        opt.learning_rate = -1


def test_warmup_inverse_sqrt():
    s = optim.WarmupInverseSqrt(d_model=512, warmup_steps=4000)
    formula = [512**-0.5 * min(k**-0.5, k * 4000**-1.5) for k in (1, 2000, 4000, 16000)]
    assert [s(k - 1) for k in (1, 2000, 4000, 16000)] == pytest.approx(formula, rel=1e-14)
    values = [s(k) for k in range(0, 12000, 500)]
    peak = int(np.argmax(values))
    assert values[peak] == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-3)
    assert np.all(np.diff(values[: peak + 1]) > 0) and np.all(np.diff(values[peak:]) < 0)
    assert optim.WarmupInverseSqrt(64, 10, scale=2.0)(0) == pytest.approx(2 * 64**-0.5 * 10**-1.5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: optim.ExponentialDecay(0.1, 0, 0.5), "decay_steps: expected a positive number, got 0"),
        (lambda: optim.PiecewiseConstantDecay([1, 2], [1.0]), "boundaries: expected one fewer entry"),
        (lambda: optim.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1]), "strictly increasing"),
        (lambda: optim.CosineDecay(0.1, 10, warmup_steps=-1), "warmup_steps: expected a non-negative number"),
        (lambda: optim.WarmupInverseSqrt(0), "d_model: expected a positive number"),
        (lambda: schedules.deserialize({"class_name": "Nope"}), "class_name: expected one of"),
    ],
)
def test_schedule_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- state and config


@pytest.mark.parametrize(("name", "kw"), CASES, ids=CASE_IDS)
def test_state_round_trip_continues_bit_identically(name, kw):
    params, grads = make_problem(6, steps=6, none_at=(1, 0))
    first = getattr(optim, name)(**kw)
    variables = [Var(p.copy(), f"m/w{i}") for i, p in enumerate(params)]
    for step in grads[:3]:
        first.apply_gradients(zip(step, variables))
    first.learning_rate = first.learning_rate * 0.5  # as a callback would; the state carries it
    state = json.loads(json.dumps({k: v.tolist() for k, v in first.get_state().items()}))  # as a file would
    copies = [Var(v.data.copy(), v.name) for v in variables]
    second = optim.get(json.loads(json.dumps(optim.serialize(first))))
    second.set_state({k: np.asarray(v) for k, v in state.items()})
    assert second.iterations == 3
    for step in grads[3:]:
        first.apply_gradients(zip(step, variables))
        second.apply_gradients(zip([None if g is None else g.copy() for g in step], copies))
    for a, b in zip(variables, copies):
        np.testing.assert_array_equal(a.data, b.data)
    for key, value in first.get_state().items():
        np.testing.assert_array_equal(value, second.get_state()[key], err_msg=key)


def test_get_state_returns_copies_and_variables_live_arrays():
    opt = optim.SGD(0.1, momentum=0.9)
    var = Var(np.zeros(2), "w")
    opt.apply_gradients([(np.ones(2), var)])
    opt.get_state()["w/momentum"][...] = 99.0
    assert opt.variables()["w/momentum"][0] == pytest.approx(-0.1)
    opt.variables()["w/momentum"][...] = 0.0  # the live slot
    opt.apply_gradients([(np.zeros(2), var)])
    np.testing.assert_allclose(var.data, [-0.1, -0.1])


def test_set_state_errors():
    opt = optim.Adam()
    with pytest.raises(ValueError, match="'iterations'"):
        opt.set_state({})
    with pytest.raises(ValueError, match="slot one of"):
        opt.set_state({"iterations": np.array(1), "w/accumulator": np.zeros(2)})
    opt.set_state({"iterations": np.array(1), "w/momentum": np.zeros(3), "w/velocity": np.zeros(3)})
    with pytest.raises(ValueError, match="variable 'w': expected its optimizer slot 'momentum'"):
        opt.apply_gradients([(np.ones(2), Var(np.zeros(2), "w"))])


@pytest.mark.parametrize(("name", "kw"), CASES, ids=CASE_IDS)
def test_config_round_trip_and_keras_configs(keras, name, kw):
    opt = getattr(optim, name)(**kw, clipnorm=2.0)
    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    again = type(opt).from_config(config)
    assert again.get_config() == config
    keras_config = getattr(keras.optimizers, name)(**kw, clipnorm=2.0).get_config()
    ours = optim.get({"class_name": name, "config": keras_config}).get_config()
    assert {**ours, "name": config["name"]} == config  # Keras's default names differ: "adam_3", "rm_sprop_1"
    assert set(config) <= set(keras_config)  # Keras's names


def test_config_with_schedule_and_keras_only_features():
    opt = optim.AdamW(learning_rate=optim.CosineDecay(0.1, 100), weight_decay=0.01)
    again = optim.deserialize(optim.serialize(opt))
    assert isinstance(again, optim.AdamW) and isinstance(again._learning_rate, optim.CosineDecay)
    assert again.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="use_ema: Adam does not support it"):
        optim.Adam.from_config({"learning_rate": 0.1, "use_ema": True})


def test_get():
    assert isinstance(optim.get("ADAM"), optim.Adam) and isinstance(optim.get("RMSprop"), optim.RMSprop)
    assert type(optim.get("adamw")) is optim.AdamW and type(optim.get("sgd")) is optim.SGD
    assert type(optim.get("adagrad")) is optim.Adagrad
    opt = optim.SGD()
    assert optim.get(opt) is opt
    assert optim.get({"class_name": "SGD", "config": {"learning_rate": 0.5}}).learning_rate == 0.5
    with pytest.raises(
        ValueError, match=r"optimizer: expected one of \['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\]"
    ):
        optim.get("nadam")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: optim.SGD(-1),
            ValueError,
            "learning_rate: expected a non-negative float or a LearningRateSchedule, got -1",
        ),
        (lambda: optim.SGD("fast"), ValueError, "learning_rate: expected"),
        (lambda: optim.SGD(momentum=1.5), ValueError, r"momentum: expected a float in \[0, 1\], got 1.5"),
        (lambda: optim.SGD(nesterov="yes"), TypeError, "nesterov: expected a bool"),
        (lambda: optim.Adam(beta_1=1.0), ValueError, r"beta_1: expected a float in \[0, 1\)"),
        (lambda: optim.Adam(epsilon=float("nan")), ValueError, "epsilon: expected a non-negative float"),
        (lambda: optim.AdamW(weight_decay=-0.1), ValueError, "weight_decay: expected a non-negative float"),
        (lambda: optim.RMSprop(centered=1), TypeError, "centered: expected a bool"),
        (lambda: optim.Adagrad(initial_accumulator_value=-1), ValueError, "initial_accumulator_value"),
        (lambda: optim.Adam(clipvalue=1, global_clipnorm=1), ValueError, "at most one of"),
        (lambda: optim.SGD(name=3), TypeError, "name: expected a str"),
    ],
)
def test_bad_constructor_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_gradients_and_variables_name_the_variable():
    opt = optim.Adam()
    w = Var(np.zeros((2, 3)), "dense/kernel")
    untouched = Var(np.zeros(2), "first")
    with pytest.raises(
        ValueError, match=r"gradient for variable 'dense/kernel': expected shape \(2, 3\), got \(3, 2\)"
    ):
        opt.apply_gradients([(np.ones(2), untouched), (np.ones((3, 2)), w)])
    np.testing.assert_array_equal(untouched.data, [0.0, 0.0])  # all checked before anything moves
    assert opt.iterations == 0
    with pytest.raises(TypeError, match="gradient for variable 'dense/kernel': expected a float array"):
        opt.apply_gradients([(np.full((2, 3), "x"), w)])
    with pytest.raises(TypeError, match=r"variable 'i': expected .data a float32 or float64 ndarray, got int64"):
        opt.apply_gradients([(np.ones(2), Var(np.zeros(2, np.int64), "i"))])
    with pytest.raises(ValueError, match="variable 'view': expected .data C-contiguous"):
        opt.apply_gradients([(np.ones(2), Var(np.zeros(4)[::2], "view"))])
    with pytest.raises(ValueError, match="variable 'dense/kernel': appears twice"):
        opt.apply_gradients([(np.ones((2, 3)), w), (np.ones((2, 3)), w)])
    with pytest.raises(TypeError, match=r"grads_and_vars\[0\]: expected a \(gradient, variable\) pair"):
        opt.apply_gradients([np.ones(3)])
