"""Fuzzing every public kernel of seqcore.kernels: the cpp backend against the reference.

Each example draws a valid call (sizes from 0 up, float32 or float64, values that may hold
NaN, +-Inf, +-1e30 and denormals, every argument in its own memory layout) and then maybe
breaks it: a wrong dtype, a wrong shape, None, a bad integer array (lengths, ids, labels), a
bad scalar, a corrupted cache, or sizes past 2**31 next to a zero.  Both backends get
their own copy of the inputs.  The oracle: when the reference raises a ValueError or
TypeError, cpp raises the same one with the same message; when the reference returns, cpp
returns the same results (``Compare``), updates in-place arguments the same way, and leaves
every other input as it was.  A crash, a hang (see ``example``), any other exception or a
wrong number fails the run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from fuzz_strategies import (
    BAD_DTYPES,
    LAYOUTS,
    VALUE_CLASSES,
    Compare,
    Fill,
    Outcome,
    bad_shapes,
    cast,
    example,
    floats,
    is_inplace_ready,
    leaves,
    materialize,
    reshaped,
    run,
    same_failure,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_specs import BACKWARD_SPECS, FORWARD_SPECS, Spec

from helpers import KERNEL_NAMES, require_backend
from seqcore import kernels as K
from seqcore import use_backend

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

#: replacements for a flag, a hyperparameter or a size: wrong types, out of range, past int64, NaN
BAD_SCALARS = [None, "1", 1.5, -1, 0, 2, 2**62, 2**63, -(2**63) - 1, 2**64 + 1, math.nan, math.inf, -math.inf,
               True, np.float32(0.5), np.int8(3), np.uint64(2**63), [1], (0, 2**63), (0, 2**62), (-1, 0), (1.5, 0),
               (0,)]  # fmt: skip
#: backward kernels whose upstream gradient may not be None
REQUIRED_UPSTREAM = {"layer_norm_backward", "batch_norm_backward", "conv1d_backward", "attention_backward"}


def float_args(args: dict[str, Any], spec: Spec) -> list[str]:
    return [
        k
        for k, v in args.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and k not in spec.ints and k not in spec.any_real
    ]


def call(name: str, args: dict[str, Any], backend: str) -> Outcome:
    fn = getattr(K, name)
    with use_backend(backend):
        return run(lambda: fn(**args))


def is_state(v: Any) -> bool:
    """A NamedTuple of arrays a kernel updates in place (beam_search_step's BeamState)."""
    return isinstance(v, tuple) and hasattr(v, "_fields") and all(isinstance(a, np.ndarray) for a in v)


def materialize_all(args: dict[str, Any], layouts: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in args.items():
        if isinstance(v, list):
            out[k] = [materialize(g, layouts.get(f"{k}[{j}]", "c")) for j, g in enumerate(v)]
        elif is_state(v):  # each backend its own copy, a field in the layout drawn for it
            out[k] = type(v)(*(materialize(a, layouts.get(f"{k}.{f}", "c")) for f, a in zip(v._fields, v)))
        else:
            out[k] = materialize(v, layouts.get(k, "c"))
    return out


def inplace_ready(v: Any) -> bool:
    if is_state(v):  # every field as it must be, whatever its dtype
        return all(a.flags.c_contiguous and a.flags.aligned and a.flags.writeable and a.dtype.isnative for a in v)
    return is_inplace_ready(v)


def same_values(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return a.shape == b.shape and all(x == y or (x != x and y != y) for x, y in zip(a.flat, b.flat))
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def check_untouched(given: dict[str, Any], canonical: dict[str, Any], spared: set[str], backend: str) -> None:
    """Inputs a kernel only reads hold the same values after the call."""
    for k, v in canonical.items():
        if k in spared or not isinstance(v, (np.ndarray, list)):
            continue
        if isinstance(v, list):
            for j, (g, c) in enumerate(zip(given[k], v)):
                assert same_values(g, c), f"{backend} changed its input {k}[{j}]"
        else:
            assert same_values(given[k], v), f"{backend} changed its input {k}"


def at_float32(outcome: Outcome) -> Outcome:
    """The outcome with its float64 values rounded to float32 (see Spec.summary_of)."""

    def cast(v: Any) -> Any:
        if isinstance(v, np.ndarray) and v.dtype == np.float64:
            return v.astype(np.float32)
        if isinstance(v, float):  # a 0-d array: compared as arrays are, NaN included
            return np.asarray(v, np.float32)
        if isinstance(v, tuple):
            return tuple(cast(x) for x in v)
        return v

    return dataclasses.replace(outcome, value=cast(outcome.value))


def compare_outcomes(spec: Spec, ref: Outcome, got: Outcome, compare: Compare, what: str) -> bool:
    """The oracle; True when both returned (the caller then compares side effects)."""
    if not ref.ok:
        same_failure(got, ref, what)
        return False
    assert got.ok, f"{what}: raised {got.error!r} where the reference returned"
    compare(got.value, ref.value, what)
    return True


def comparison(spec: Spec, cls: str, inputs: Any = None) -> Compare:
    loose = spec.gemm and cls == "huge"
    arrays = [v for _, v in leaves(inputs) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    finite_only = loose and all(v.dtype == np.float64 and not np.isinf(v).any() for v in arrays)
    return Compare(loose=loose, finite_only=finite_only, joint=cls == "huge", inputs=inputs)


# ---------------------------------------------------------------- mutations


def mutate(draw, spec: Spec, args: dict[str, Any], layouts: dict[str, str], mode: str) -> type[Exception] | None:
    """Breaks ``args`` in place as ``mode`` says; returns the exception the call must raise, if one must."""
    floats_ = float_args(args, spec)
    if mode == "dtype":
        if "grads" in args:
            grads = args["grads"] if isinstance(args["grads"], list) else [args["grads"]]
            if not grads:
                return None
            k = draw(st.integers(0, len(grads) - 1))
            grads[k] = cast(grads[k], draw(st.sampled_from(BAD_DTYPES)))
            args["grads"] = grads
            return TypeError
        candidates = [k for k in floats_ if k != "labels"]
        if not candidates:  # a kernel of integers only (glove_cooccurrence)
            return None
        k = draw(st.sampled_from(candidates))
        first = floats_[0]
        other = np.float64 if args[k].dtype == np.float32 else np.float32
        wrong = draw(st.sampled_from([*BAD_DTYPES, np.dtype(other)]))
        args[k] = cast(args[k], wrong)
        layouts[k] = "c"
        # the other float dtype in the first argument re-types the call: every later one is then wrong
        return TypeError if (wrong.kind != "f" or k != first or len(floats_) > 1) else None
    if mode == "shape":
        if "grads" in args or not floats_:
            return None
        k = draw(st.sampled_from(floats_))
        args[k] = reshaped(args[k], draw(st.sampled_from(bad_shapes(args[k].shape))))
        return None
    if mode == "none":
        k = draw(st.sampled_from(sorted(args)))
        args[k] = None
        return None
    if mode == "ints":
        k = draw(st.sampled_from(spec.ints))
        v = args.get(k)
        if v is None:
            v = np.zeros(0, np.int64)
        how = draw(st.sampled_from(["low", "high", "float", "bool", "shape", "uint64", "object"]))
        if how == "low" and v.size:
            v = cast(v, np.int64)
            v.reshape(-1)[draw(st.integers(0, v.size - 1))] = draw(st.sampled_from([-1, -(2**63)]))
        elif how == "high" and v.size:
            v = cast(v, np.int64)
            v.reshape(-1)[draw(st.integers(0, v.size - 1))] = draw(st.sampled_from([2**31, 2**63 - 1, 7]))
        elif how == "uint64" and v.size:
            v = cast(v, np.uint64)
            v.reshape(-1)[0] = 2**64 - 1
        elif how == "float":
            v = cast(v, draw(st.sampled_from([np.float32, np.float64, np.float16])))
        elif how == "bool":
            v = cast(v, bool)
        elif how == "object":
            v = cast(v, object)
        elif how == "shape":
            v = reshaped(v, draw(st.sampled_from(bad_shapes(v.shape))))
        args[k] = v
        layouts[k] = "c"
        return None
    if mode == "scalar":
        k = draw(st.sampled_from(spec.scalars))
        args[k] = draw(st.sampled_from(BAD_SCALARS))
        return None
    if mode == "inplace_layout":
        k = draw(st.sampled_from([k for k in spec.inplace if args.get(k) is not None] or ["param"]))
        if is_state(args.get(k)):
            k = f"{k}.{draw(st.sampled_from(args[k]._fields))}"
        layouts[k] = draw(st.sampled_from(LAYOUTS))
        return None
    return None


def draw_alias(draw, spec: Spec, args: dict[str, Any]) -> tuple[str, str, bool] | None:
    """(written, other, shifted): an in-place argument to make share memory with another array argument."""
    written = [k for k in spec.inplace if isinstance(args.get(k), np.ndarray) and args[k].size > 1]
    if not written:
        return None
    k = draw(st.sampled_from(written))
    # same shape only (a training kernel's in-place arrays differ: W [V,E], bw [V]): sharing must be the only defect
    others = [
        j
        for j in (*spec.inplace, "grad")
        if j != k and isinstance(args.get(j), np.ndarray) and args[j].shape == args[k].shape
    ]
    if not others:
        return None
    return k, draw(st.sampled_from(others)), draw(st.booleans())


def make_alias(given: dict[str, Any], k: str, other: str, shifted: bool) -> None:
    """given[k] becomes given[other] itself, or a view of one buffer shifted by one element from it."""
    if not shifted:
        given[k] = given[other]
        return
    a = np.asarray(given[other])
    buf = np.empty(a.size + 1, a.dtype)
    buf[: a.size] = a.reshape(-1)
    given[other] = buf[: a.size].reshape(a.shape)
    given[k] = buf[1:].reshape(a.shape)


def draw_layouts(draw, spec: Spec, args: dict[str, Any]) -> dict[str, str]:
    layouts = {}
    for k, v in args.items():
        if k in spec.inplace:
            layouts[k] = "c"
        elif k == "grads":  # arrays taken as they are: no list, and (a policy) no big-endian data
            inplace = bool(args.get("inplace") is True)
            ok = [x for x in LAYOUTS if x not in ("list", "bigendian") and not (inplace and x == "readonly")]
            if isinstance(v, list):
                for j in range(len(v)):
                    layouts[f"{k}[{j}]"] = draw(st.sampled_from(ok))
            else:
                layouts[k] = draw(st.sampled_from(ok))
        elif isinstance(v, np.ndarray):
            layouts[k] = draw(st.sampled_from(LAYOUTS))
    return layouts


# ---------------------------------------------------------------- forward kernels (and everything not taking a cache)


def _modes(spec: Spec) -> list[str]:
    modes = ["valid"] * 6 + ["dtype", "shape", "none", "scalar"]
    if spec.ints:
        modes.append("ints")
    if spec.huge:
        modes += ["huge", "huge"]
    if spec.inplace:
        modes += ["inplace_layout", "inplace_layout", "alias"]
    if not spec.scalars:
        modes.remove("scalar")
    return modes


def check_kernel(name: str, data: st.DataObject, candidate: str) -> None:
    """One drawn call of a kernel that takes no cache, on the reference and on ``candidate``."""
    spec = FORWARD_SPECS[name]
    draw = data.draw
    dt, cls = draw(floats), draw(st.sampled_from(VALUE_CLASSES))
    fill = Fill(draw, dt, cls)
    mode = draw(st.sampled_from(_modes(spec)))
    args = spec.huge(draw, fill) if mode == "huge" else spec.build(draw, fill)
    layouts = draw_layouts(draw, spec, args) if mode != "huge" else {}
    must_raise = mutate(draw, spec, args, layouts, mode)
    alias = draw_alias(draw, spec, args) if mode == "alias" else None
    if alias:  # both arrays as an in-place argument must be: the sharing is then the only thing wrong
        layouts[alias[0]] = layouts[alias[1]] = "c"
    given_ = {b: materialize_all(args, layouts) for b in ("reference", candidate)}
    if alias:
        for b in given_:
            make_alias(given_[b], *alias)
        must_raise = ValueError
    ref = call(name, given_["reference"], "reference")
    if mode in ("valid", "huge"):
        assert ref.ok, f"a valid call raised {ref.error!r}"
    if must_raise:
        assert isinstance(ref.error, must_raise), f"expected {must_raise.__name__}, got {ref.error or ref.value!r}"
    if mode == "dtype" and must_raise:  # the message names an argument of the call
        names = [*args, "grads["]
        assert any(n in str(ref.error) for n in names), f"{ref.error!r} names none of {names}"
    if alias:
        assert "share memory" in str(ref.error), f"aliased {alias}: {ref.error!r}"
    if mode == "inplace_layout":
        bad = [k for k in spec.inplace if args.get(k) is not None and not inplace_ready(given_["reference"][k])]
        assert bool(bad) == (not ref.ok), f"in-place arguments in layouts {layouts}: {ref.error!r}"
    got = call(name, given_[candidate], candidate)
    state = args.get(spec.summary_of) if spec.summary_of else None
    if isinstance(state, np.ndarray) and state.dtype == np.float32 and ref.ok and got.ok:
        ref, got = at_float32(ref), at_float32(got)
    if not compare_outcomes(spec, ref, got, comparison(spec, cls, args), name):
        return
    spared = set(spec.inplace)
    if args.get("inplace") is True:
        spared.add("grads")
    for k in spared:  # what the update wrote
        if args.get(k) is not None:
            comparison(spec, cls, args)(given_[candidate][k], given_["reference"][k], f"{name}: {k} after the call")
    for b in given_:
        check_untouched(given_[b], args, spared, b)


def test_every_kernel_has_a_spec() -> None:
    specs = set(FORWARD_SPECS) | set(BACKWARD_SPECS)
    assert set(KERNEL_NAMES) <= specs, f"kernels without a fuzz spec: {sorted(set(KERNEL_NAMES) - specs)}"


@pytest.mark.parametrize("name", sorted(FORWARD_SPECS))
@given(data=st.data())
def test_kernel(name: str, data: st.DataObject) -> None:
    with example(f"kernels.{name}"):
        check_kernel(name, data, "cpp")


# ---------------------------------------------------------------- backward kernels (a forward's cache in)


def cache_plan(draw, cache: Any) -> tuple[str, str, Any]:
    """One change to make to a cache: (how, field, detail), drawn once and applied to each backend's cache."""
    how = draw(st.sampled_from(["layout", "layout", "type", "dtype", "shape"]))
    fields = [f for f, v in zip(cache._fields, cache) if isinstance(v, np.ndarray)]
    f = draw(st.sampled_from(fields))
    v = getattr(cache, f)
    if how == "type":
        return how, f, draw(st.sampled_from([None, "tuple", "cache", "other"]))
    if how == "layout":
        return how, f, draw(st.sampled_from([x for x in LAYOUTS if x != "list"]))
    if how == "dtype":
        return how, f, draw(st.sampled_from(BAD_DTYPES))
    return how, f, draw(st.sampled_from(bad_shapes(v.shape)))


def apply_plan(plan: tuple[str, str, Any], cache: Any) -> Any:
    how, f, detail = plan
    v = getattr(cache, f)
    if how == "type":
        return {None: None, "tuple": tuple(cache), "cache": "cache", "other": K.RNNCache(*([None] * 7))}[detail]
    if how == "layout":
        return cache._replace(**{f: materialize(v, detail)})
    if how == "dtype":
        return cache._replace(**{f: cast(v, detail)})
    return cache._replace(**{f: reshaped(v, detail)})


def check_backward(name: str, data: st.DataObject, candidate: str) -> None:
    """One drawn call of a backward kernel, each backend on its own forward's cache."""
    spec = BACKWARD_SPECS[name]
    fwd = FORWARD_SPECS[spec.forward]
    draw = data.draw
    pair = ("reference", candidate)
    dt, cls = draw(floats), draw(st.sampled_from(VALUE_CLASSES))
    fill = Fill(draw, dt, cls)
    modes = ["valid"] * 6 + ["dtype", "shape", "none", "cache", "cache"] + (["huge", "huge"] if fwd.huge else [])
    mode = draw(st.sampled_from(modes))
    fargs = fwd.huge(draw, fill) if mode == "huge" else fwd.build(draw, fill)
    forward = {b: call(fwd.name, materialize_all(fargs, {}), b) for b in pair}
    if not compare_outcomes(fwd, forward["reference"], forward[candidate], comparison(fwd, cls, fargs), fwd.name):
        raise AssertionError(f"a valid forward raised {forward['reference'].error!r}")
    up = spec.upstream(draw, fill, forward["reference"].value)
    layouts = {k: draw(st.sampled_from(LAYOUTS)) for k in up}
    present = [k for k, v in up.items() if v is not None]
    must_raise = None
    if mode == "dtype" and present:
        k = draw(st.sampled_from(present))
        other = np.float64 if dt == np.float32 else np.float32
        up[k] = cast(up[k], draw(st.sampled_from([*BAD_DTYPES, np.dtype(other)])))
        layouts[k], must_raise = "c", TypeError
    elif mode == "shape" and present:
        k = draw(st.sampled_from(present))
        up[k] = reshaped(up[k], draw(st.sampled_from(bad_shapes(up[k].shape))))
        layouts[k], must_raise = "c", ValueError
    required = name in REQUIRED_UPSTREAM
    if mode == "none":
        up = {k: None for k in up}
    caches = {b: forward[b].value[-1] for b in pair}
    plan = cache_plan(draw, caches["reference"]) if mode == "cache" else None
    if plan:
        caches = {b: apply_plan(plan, c) for b, c in caches.items()}
    given_ = {b: {k: materialize(v, layouts[k]) for k, v in up.items()} for b in pair}
    ref = call(name, {"cache": caches["reference"], **given_["reference"]}, "reference")
    if mode in ("valid", "huge") or (plan and plan[0] == "layout") or (mode == "none" and not required):
        assert ref.ok, f"a valid call raised {ref.error!r}"
    if mode == "none" and required:
        assert isinstance(ref.error, TypeError), f"None for a required gradient: {ref.error or ref.value!r}"
    if must_raise:
        assert isinstance(ref.error, must_raise), f"expected {must_raise.__name__}, got {ref.error or ref.value!r}"
    got = call(name, {"cache": caches[candidate], **given_[candidate]}, candidate)
    if compare_outcomes(spec, ref, got, comparison(spec, cls, [fargs, up]), name):
        for b in pair:
            check_untouched(given_[b], up, set(), b)


@pytest.mark.parametrize("name", sorted(BACKWARD_SPECS))
@given(data=st.data())
def test_backward_kernel(name: str, data: st.DataObject) -> None:
    with example(f"kernels.{name}"):
        check_backward(name, data, "cpp")


# ---------------------------------------------------------------- numba, fewer examples

#: the numba backend against the reference at a sixth of the profile's examples (its JIT is slow to warm)
NUMBA_EXAMPLES = max(5, settings.default.max_examples // 6)


@pytest.mark.parametrize("name", sorted(FORWARD_SPECS) + sorted(BACKWARD_SPECS))
@settings(max_examples=NUMBA_EXAMPLES)
@given(data=st.data())
def test_numba_kernel(name: str, data: st.DataObject) -> None:
    require_backend("numba")
    with example(f"numba.{name}"):
        (check_backward if name in BACKWARD_SPECS else check_kernel)(name, data, "numba")


# ---------------------------------------------------------------- products big enough for OpenBLAS

#: sizes whose per-step product (2**20 multiply-adds and up) or one-off product (2**24 and up) the native
#: backend hands to OpenBLAS with 32-bit blasint sizes (gemm.cpp, blas_fits); everything above stays on Eigen
BLAS_SIZED = {
    "lstm": (48, 2, 16, 128),  # B, T, D, H: 48 x 512 x 128 a step
    "gru": (48, 2, 16, 128),
    "rnn": (64, 2, 16, 128),
    "conv1d": (8, 256, 64, 3, 64, 1, 1, 1, 1),  # B, T, C, K, F, stride, left, right, dilation: 2048 x 192 x 64
}


@pytest.mark.parametrize("kind", sorted(BLAS_SIZED))
@settings(max_examples=max(3, settings.default.max_examples // 10))
@given(data=st.data())
def test_blas_sized_products(kind: str, data: st.DataObject) -> None:
    """Forward and backward on sizes that take the OpenBLAS path, NaN included, against the reference."""
    draw = data.draw
    with example(f"blas.{kind}"):
        dt, cls = draw(floats), draw(st.sampled_from(["clean", "nan"]))
        fill = Fill(draw, dt, cls)
        fwd, bwd = FORWARD_SPECS[f"{kind}_forward"], BACKWARD_SPECS[f"{kind}_backward"]
        args = fwd.build(draw, fill, BLAS_SIZED[kind])
        out = {b: call(fwd.name, materialize_all(args, {}), b) for b in ("reference", "cpp")}
        assert compare_outcomes(fwd, out["reference"], out["cpp"], comparison(fwd, cls, args), fwd.name)
        up = bwd.upstream(draw, fill, out["reference"].value)
        grads = {b: call(bwd.name, {"cache": out[b].value[-1], **materialize_all(up, {})}, b) for b in out}
        assert compare_outcomes(bwd, grads["reference"], grads["cpp"], comparison(bwd, cls, [args, up]), bwd.name)
