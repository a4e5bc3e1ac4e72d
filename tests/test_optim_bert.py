"""BERT fine-tuning's optimizer pieces: LinearWarmupDecay against transformers.get_linear_schedule_with_warmup step
by step, its arguments and config; AdamW.exclude_from_weight_decay (excluded variables get no decay, others keep
it) and AdamW with exclusions against torch.optim.AdamW with two parameter groups."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore import optim
from seqcore.autograd import Variable
from seqcore.optim.schedules import deserialize, serialize

SCHEDULES = [(3e-5, 10, 100), (1.0, 0, 7), (0.5, 7, 7), (2e-3, 1, 2), (1e-4, 6, 30)]


# ---------------------------------------------------------------- LinearWarmupDecay


@pytest.mark.parametrize("peak, warmup, total", SCHEDULES)
def test_linear_warmup_decay_equals_transformers(peak, warmup, total):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=peak)
    sched = transformers.get_linear_schedule_with_warmup(opt, warmup, total)
    ours = optim.LinearWarmupDecay(peak, warmup, total)
    for step in range(total + 5):  # past the end too: the rate stays at 0
        want = opt.param_groups[0]["lr"]  # the rate the (step+1)-th update uses
        assert ours(step) == pytest.approx(want, rel=1e-12, abs=1e-18), step
        opt.step()
        sched.step()


def test_linear_warmup_decay_shape():
    s = optim.LinearWarmupDecay(1.0, 4, 12)
    assert [s(i) for i in range(14)] == pytest.approx(
        [0, 0.25, 0.5, 0.75, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0, 0]
    )
    assert optim.LinearWarmupDecay(2.0, 0, 4)(0) == 2.0  # no warm-up: the first update at the peak


def test_linear_warmup_decay_in_an_optimizer_and_config_round_trip():
    s = optim.LinearWarmupDecay(0.1, 2, 10)
    assert s.get_config() == {"peak_learning_rate": 0.1, "warmup_steps": 2, "total_steps": 10}
    again = deserialize(serialize(s))
    assert isinstance(again, optim.LinearWarmupDecay) and [again(i) for i in range(12)] == [s(i) for i in range(12)]
    opt = optim.AdamW(s, weight_decay=0.01)
    clone = optim.AdamW.from_config(opt.get_config())
    assert isinstance(clone._learning_rate, optim.LinearWarmupDecay)
    var = Variable(np.ones(3), name="w")
    rates = []
    for _ in range(4):
        rates.append(float(opt.learning_rate))
        opt.apply_gradients([(np.ones(3), var)])
    assert rates == pytest.approx([0.0, 0.05, 0.1, 0.0875])


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((0.0, 1, 10), ValueError, "peak_learning_rate: expected a positive number"),
        ((-1e-3, 1, 10), ValueError, "peak_learning_rate: expected a positive number"),
        ((float("nan"), 1, 10), ValueError, "peak_learning_rate: expected a finite number"),
        ((1e-3, -1, 10), ValueError, "warmup_steps: expected a non-negative number"),
        ((1e-3, 1, 0), ValueError, "total_steps: expected a positive number"),
        ((1e-3, 11, 10), ValueError, r"warmup_steps: expected at most total_steps \(10\), got 11"),
        (("fast", 1, 10), TypeError, "peak_learning_rate: expected a real number"),
        ((1e-3, True, 10), TypeError, "warmup_steps: expected a real number"),
        ((1e-3, 1, None), TypeError, "total_steps: expected a real number"),
    ],
)
def test_linear_warmup_decay_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        optim.LinearWarmupDecay(*args)


def test_linear_warmup_decay_bad_step():
    with pytest.raises(TypeError, match="step: expected a number"):
        optim.LinearWarmupDecay(1e-3, 1, 10)(True)


# ---------------------------------------------------------------- AdamW's exclusions


def _vars(seed: int = 0, dtype=np.float64) -> list[Variable]:
    rng = np.random.default_rng(seed)
    names = ["dense/kernel", "dense/bias", "layer_normalization/gamma", "layer_normalization/beta", "embedding/emb"]
    shapes = [(4, 3), (3,), (3,), (3,), (5, 3)]
    return [Variable(rng.standard_normal(s).astype(dtype), name=n) for n, s in zip(names, shapes)]


def _grads(step: int, variables) -> list[np.ndarray]:
    rng = np.random.default_rng([step, 99])
    return [rng.standard_normal(v.shape).astype(v.dtype) for v in variables]


def _run(opt, variables, steps: int = 3) -> list[np.ndarray]:
    for step in range(steps):
        opt.apply_gradients(list(zip(_grads(step, variables), variables)))
    return [v.data.copy() for v in variables]


def test_excluded_variables_get_no_decay():
    kwargs = {"learning_rate": 0.05, "beta_1": 0.9, "beta_2": 0.99, "epsilon": 1e-7}
    excluded = optim.AdamW(weight_decay=0.2, **kwargs)
    excluded.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    with_exclusions = _run(excluded, _vars())
    everything = _run(optim.AdamW(weight_decay=0.2, **kwargs), _vars())
    nothing = _run(optim.Adam(**kwargs), _vars())
    names = [v.name for v in _vars()]
    for name, a, all_decayed, none_decayed in zip(names, with_exclusions, everything, nothing):
        if any(part in name for part in ("bias", "gamma", "beta")):
            np.testing.assert_array_equal(a, none_decayed, err_msg=name)  # exactly Adam: no decay at all
            assert not np.array_equal(a, all_decayed)
        else:
            np.testing.assert_array_equal(a, all_decayed, err_msg=name)  # the rest decays as before


def test_exclusion_by_variable():
    variables = _vars()
    opt = optim.AdamW(learning_rate=0.05, weight_decay=0.2)
    opt.exclude_from_weight_decay(var_list=[variables[4]])
    got = _run(opt, variables)
    plain = _run(optim.AdamW(learning_rate=0.05, weight_decay=0.2), _vars())
    adam = _run(optim.Adam(learning_rate=0.05), _vars())
    np.testing.assert_array_equal(got[4], adam[4])
    for a, b in zip(got[:4], plain[:4]):
        np.testing.assert_array_equal(a, b)


def test_exclusion_by_variable_is_exact():
    w, w2 = Variable(np.ones(3), name="w"), Variable(np.ones(3), name="w2")
    opt = optim.AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[w])
    ref = optim.AdamW(learning_rate=0.1, weight_decay=0.5)
    other = Variable(np.ones(3), name="w2")
    opt.apply_gradients([(np.ones(3), w), (np.ones(3), w2)])
    ref.apply_gradients([(np.ones(3), other)])
    np.testing.assert_array_equal(w2.data, other.data)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"var_names": [""]}, TypeError, "var_names: expected non-empty strings"),
        ({"var_names": [3]}, TypeError, "var_names: expected non-empty strings"),
        ({"var_list": [np.ones(2)]}, TypeError, "var_list: expected variables with a str .name"),
    ],
)
def test_exclusion_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        optim.AdamW().exclude_from_weight_decay(**kwargs)


def test_adamw_with_exclusions_equals_torch_param_groups():
    """torch.optim.AdamW with weight_decay 0 for the excluded group.  Keras's Adam (seqcore's) adds epsilon to
    sqrt(v) and folds the bias corrections into the rate; torch adds it to sqrt(v) / sqrt(1 - beta_2^t).  The two
    differ by eps * (1 - sqrt(1 - beta_2^t)) in the denominator, so with eps = 1e-12 against |g| ~ 1 they agree to
    ~1e-12 relative in float64: checked to 1e-9."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peak, warmup, total, wd, eps = 0.02, 2, 8, 0.1, 1e-12
    ours = _vars(3)
    theirs = [torch.nn.Parameter(torch.tensor(v.data.copy())) for v in ours]
    no_decay = [i for i, v in enumerate(ours) if any(p in v.name for p in ("bias", "gamma", "beta"))]
    groups = [
        {"params": [theirs[i] for i in range(len(ours)) if i not in no_decay], "weight_decay": wd},
        {"params": [theirs[i] for i in no_decay], "weight_decay": 0.0},
    ]
    t_opt = torch.optim.AdamW(groups, lr=peak, betas=(0.9, 0.999), eps=eps)
    t_sched = transformers.get_linear_schedule_with_warmup(t_opt, warmup, total)
    opt = optim.AdamW(optim.LinearWarmupDecay(peak, warmup, total), weight_decay=wd, epsilon=eps)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    for step in range(total):
        grads = _grads(step, ours)
        opt.apply_gradients(list(zip(grads, ours)))
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
        t_opt.step()
        t_sched.step()
        for v, p in zip(ours, theirs):
            np.testing.assert_allclose(v.data, p.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{v.name} @ {step}")
    assert step == total - 1 and not np.allclose(ours[0].data, _vars(3)[0].data)


def test_adamw_float32_with_exclusions():
    variables = _vars(4, np.float32)
    opt = optim.AdamW(learning_rate=0.01, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    out = _run(opt, variables)
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in out)
    ref = _run(optim.AdamW(learning_rate=0.01, weight_decay=0.1), _vars(4, np.float32))
    np.testing.assert_array_equal(out[0], ref[0])
    assert not np.array_equal(out[1], ref[1])
