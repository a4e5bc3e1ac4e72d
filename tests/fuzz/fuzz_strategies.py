"""Building blocks of the fuzz suite: values, layouts, bad dtypes and shapes, and the comparison.

Arrays are drawn as a seed for NumPy's generator plus a few "sprinkled" special values
(NaN, +-Inf, +-1e30, denormals, -0.0) at drawn positions: Hypothesis stays in control of
every choice, and drawing is cheap whatever the size.  A layout is a recipe that turns a
canonical array into another object holding the same values (a strided or negative-stride
view, Fortran order, a read-only or misaligned copy, big-endian data, a nested list), so
each backend gets its own fresh object and an input changed by a kernel is caught.
"""

from __future__ import annotations

import contextlib
import faulthandler
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

try:
    import resource
except ImportError:  # Windows has no resource module: no memory cap there
    resource = None  # type: ignore[assignment]

# ---------------------------------------------------------------- bookkeeping

#: examples run per entry point ("kernels.lstm_forward", "_core.softmax", ...), printed by conftest
COUNTS: Counter[str] = Counter()

#: seconds one example may take before faulthandler dumps every thread's stack and exits:
#: a hang fails the run loudly instead of stalling it (a sanitizer build runs a few times slower)
EXAMPLE_TIMEOUT_S = float(os.environ.get("SEQCORE_FUZZ_TIMEOUT", "120"))
#: where the watchdog writes when the terminal's own stderr is not at hand (pytest captures fd 2, and
#: a process that exits never shows what it captured); see conftest.py
HANG_LOG = os.environ.get(
    "SEQCORE_FUZZ_HANG_LOG", os.path.join(tempfile.gettempdir(), f"seqcore-fuzz-hang-{os.getpid()}.log")
)
_hang_log: Any = None


def watchdog_stream(stream: Any) -> None:
    """Make the watchdog write to ``stream`` (a file with a descriptor) instead of HANG_LOG."""
    global _hang_log
    _hang_log = stream


#: address space one example may add: a size that wraps and allocates terabytes raises MemoryError
#: instead of waking the OOM killer.  Not under AddressSanitizer, whose shadow memory is reserved up front.
EXAMPLE_MEMORY_BYTES = int(float(os.environ.get("SEQCORE_FUZZ_MEMORY_GB", "2")) * 2**30)
_ASAN = "asan" in os.environ.get("LD_PRELOAD", "") or "ASAN_OPTIONS" in os.environ


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def _memory_cap() -> Iterator[None]:
    if _ASAN or resource is None or not os.path.exists("/proc/self/statm"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + EXAMPLE_MEMORY_BYTES
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def example(entry: str) -> Iterator[None]:
    """Counts one example of ``entry``, arms the hang watchdog and caps the memory it may take."""
    global _hang_log
    COUNTS[entry] += 1
    if _hang_log is None:
        _hang_log = open(HANG_LOG, "w")  # kept open for the whole session: the watchdog writes from C
    faulthandler.dump_traceback_later(EXAMPLE_TIMEOUT_S, exit=True, file=_hang_log)
    try:
        with _memory_cap():
            yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# ---------------------------------------------------------------- dtypes and sizes

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: dtypes no float argument accepts (the other float dtype, when mixed in, is rejected as well)
BAD_DTYPES = tuple(
    np.dtype(t) for t in (np.float16, np.int32, np.int64, np.bool_, np.object_, np.complex64, np.complex128)
)
#: dimensions that wrap a 32-bit index (blasint, int) or come close; only ever next to a zero dimension
HUGE = (2**31 - 1, 2**31, 2**31 + 1, 2**32 + 3, 2**40 + 5)

floats = st.sampled_from(FLOATS)
sizes = st.integers(0, 4)  # 0 and 1 often, a few SIMD-unfriendly sizes
positive_sizes = st.integers(1, 5)

# ---------------------------------------------------------------- values

#: "clean": normal numbers only; "nan": NaN, denormals and signed zeros among them;
#: "huge": +-Inf and +-1e30 as well (see ``Compare`` for what that relaxes)
VALUE_CLASSES = ("clean", "clean", "nan", "huge")


def specials(dt: np.dtype, cls: str) -> tuple[float, ...]:
    tiny = (1e-40, -1e-40, 1e-45) if dt == np.float32 else (5e-324, -1e-310, 2.5e-308)
    nan = (math.nan, -0.0, 0.0, *tiny)
    return nan if cls == "nan" else (*nan, math.inf, -math.inf, 1e30, -1e30)


@dataclass
class Fill:
    """Draws arrays of one float dtype and value class: ``fill(shape, scale)``."""

    draw: Callable[[st.SearchStrategy], Any]
    dt: np.dtype
    cls: str

    def __call__(self, shape: tuple[int, ...], scale: float = 1.0, *, positive: bool = False) -> np.ndarray:
        seed = self.draw(st.integers(0, 2**32 - 1))
        a = np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)
        if positive:
            a = np.abs(a)
        a = np.asarray(a.astype(self.dt))
        if self.cls != "clean" and a.size:
            flat = a.reshape(-1)
            for _ in range(self.draw(st.integers(0, 3))):
                flat[self.draw(st.integers(0, a.size - 1))] = self.draw(st.sampled_from(specials(self.dt, self.cls)))
        return a


def int_array(draw, shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
    """Integers in [low, high] of a drawn integer dtype (every integer dtype is accepted for ids/lengths)."""
    dt = draw(st.sampled_from([np.int64, np.int64, np.int32, np.int16, np.uint8, np.uint64, np.longlong]))
    if high < low or (np.iinfo(dt).max < high):
        dt = np.int64
    seed = draw(st.integers(0, 2**32 - 1))
    return np.asarray(np.random.default_rng(seed).integers(low, high, size=shape, endpoint=True)).astype(dt)


# ---------------------------------------------------------------- layouts

LAYOUTS = ("c", "c", "fortran", "strided", "negative", "readonly", "misaligned", "bigendian", "permuted", "list")


def materialize(a: Any, layout: str) -> Any:
    """A fresh object with ``a``'s values in the given layout (non-arrays are returned as they are)."""
    if not isinstance(a, np.ndarray):
        return a
    if a.ndim == 0 and layout in ("fortran", "strided", "negative", "permuted"):
        layout = "c"  # a 0-d array has no axes to stride or permute (and NumPy makes some of these 1-d)
    if layout == "c":
        return a.copy()
    if layout == "fortran":
        return np.array(a, order="F", copy=True)  # asfortranarray would hand back a 1-d `a` itself
    if layout == "strided":  # every other element of a buffer whose gaps hold a value no kernel should see
        gaps = np.full(tuple(2 * n for n in a.shape), 7e37 if a.dtype.kind == "f" else 7, a.dtype)
        view = gaps[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "negative":
        flip = tuple(slice(None, None, -1) for _ in a.shape)
        return a[flip].copy()[flip]
    if layout == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if layout == "misaligned":
        if a.dtype.itemsize == 1 or a.dtype.kind == "O":
            return a.copy()
        buf = np.empty(a.nbytes + 8, np.uint8)
        b = buf[3 : 3 + a.nbytes].view(a.dtype).reshape(a.shape)
        b[...] = a
        return b
    if layout == "bigendian":
        return a.astype(a.dtype.newbyteorder(">")) if a.dtype.kind in "fiuc" else a.copy()
    if layout == "permuted":  # C-contiguous memory in another axis order, seen through a transpose
        order = list(range(a.ndim))[::-1]
        return a.transpose(order).copy(order="C").transpose(np.argsort(order))
    if layout == "list":  # NumPy turns it back into int64 / float64 (and an empty list into shape (0,))
        return a.tolist() if a.dtype in (np.float64, np.int64) and a.size else a.copy()
    raise AssertionError(layout)


def is_inplace_ready(a: Any) -> bool:
    """What an array updated in place must be: a C-contiguous, aligned, writeable native float ndarray."""
    return (
        isinstance(a, np.ndarray)
        and a.dtype in FLOATS
        and a.flags.c_contiguous
        and a.flags.aligned
        and a.flags.writeable
    )


# ---------------------------------------------------------------- wrong shapes


def bad_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes near ``shape``: one axis more or less, one size changed (none that would hold over 2**20 values)."""
    out = [(*shape, 1), (1, *shape)]
    if shape:
        out.append(shape[:-1])
    for k, n in enumerate(shape):
        for m in (n + 1, n - 1, 0):
            if m >= 0 and m != n:
                out.append((*shape[:k], m, *shape[k + 1 :]))
    return [s for s in out if math.prod(s) <= 2**20]


def cast(a: np.ndarray, dtype: Any) -> np.ndarray:
    """a.astype(dtype), or zeros of that dtype where NumPy refuses the conversion (NaN to int, -1 to uint64)."""
    try:
        with np.errstate(all="ignore"):
            return a.astype(dtype)
    except (ValueError, OverflowError, TypeError):
        return np.zeros(a.shape, dtype)


def reshaped(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An array of ``shape`` and a's dtype whose values come from a (cycled), or zeros when a is empty."""
    n = math.prod(shape)
    flat = a.reshape(-1)
    data = np.resize(flat, n) if flat.size else np.zeros(n, a.dtype)
    return data.reshape(shape).copy(order="C")


# ---------------------------------------------------------------- outcomes and comparison

#: outcomes a call may have besides returning: the named argument errors
NAMED_ERRORS = (ValueError, TypeError)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run(call: Callable[[], Any]) -> Outcome:
    """The call's result, or the ValueError/TypeError it raised; anything else propagates (a failure)."""
    try:
        with np.errstate(all="ignore"):
            return Outcome(value=call())
    except NAMED_ERRORS as exc:
        return Outcome(error=exc)


def leaves(obj: Any, path: str = "out") -> Iterator[tuple[str, Any]]:
    """Every array, number, flag and None in a result (tuples, lists and NamedTuple caches walked)."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        for name, v in zip(obj._fields, obj):
            yield from leaves(v, f"{path}.{name}")
    elif isinstance(obj, (tuple, list)):
        for k, v in enumerate(obj):
            yield from leaves(v, f"{path}[{k}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}.{k}")
    else:
        yield path, obj


def magnitude(e: np.ndarray) -> float:
    """The largest finite magnitude of a float array (at least 1)."""
    if e.dtype.kind != "f":
        return 1.0
    finite = e[np.isfinite(e)]
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-9}


@dataclass
class Compare:
    """How closely two backends must agree on one call.

    Always: same structure, types, dtypes and shapes; and where the reference gives NaN, so
    does the candidate, and the same for +Inf and -Inf (NaN propagates as NumPy propagates it:
    a kernel that turns NaN into a number is wrong).  Finite values agree within ``TOL`` of
    the dtype, relative to each value and to the largest finite magnitude of the array (the
    order of a sum is the implementation's, so cancellation costs that much).

    ``loose``: the call multiplies matrices (a GEMM) and its inputs hold +-Inf or +-1e30.
    Then the order in which a dot product adds its terms decides what survives cancellation
    (1e30 + 1 - 1e30 is 0 or 1), a recurrence feeds that into tanh/sigmoid (so a value may
    differ by O(1)), and a saturated gate (exactly 1.0 in one library, 1 - 6e-8 in the other)
    times an infinite gradient is NaN in one and Inf in the other.  So only structure, dtypes
    and shapes are compared, and float64 results without Inf inputs must be finite where the
    reference's are (1e30 squared is far from float64's range, so nothing may overflow).
    """

    loose: bool = False
    finite_only: bool = False  # loose, float64, no infinity among the inputs
    joint: bool = False  # extreme inputs: one scale for the call, see __call__
    inputs: Any = None  # the call's arguments, for that scale
    scale: float = 1.0

    def __call__(self, actual: Any, expected: Any, what: str = "out") -> None:
        got, want = dict(leaves(actual, what)), dict(leaves(expected, what))
        assert got.keys() == want.keys(), f"{what}: structure {sorted(got)} != {sorted(want)}"
        if self.joint:
            # With +-1e30 among the inputs an error is judged against the largest finite magnitude
            # anywhere in the call, inputs included: a sum whose terms are 1e30 loses ulp(1e30) =
            # 1e14 to rounding in whatever order it is taken, and that lands in outputs of any size
            # (dx = d - mean(d) of a norm backward, with d = dy * gamma = 1e30, is such a difference).
            arrays = [e for e in want.values() if isinstance(e, np.ndarray)]
            arrays += [v for _, v in leaves(self.inputs) if isinstance(v, np.ndarray)]
            self.scale = max([magnitude(e) for e in arrays] + [1.0])
        for path, e in want.items():
            self.leaf(got[path], e, path)

    def leaf(self, a: Any, e: Any, path: str) -> None:
        if not isinstance(e, np.ndarray):
            assert type(a) is type(e) or (isinstance(a, float) and isinstance(e, float)), (
                f"{path}: {type(a).__name__} != {type(e).__name__}"
            )
            if isinstance(e, float):
                self.values(np.asarray(a), np.asarray(e), path, self.scale)
            else:
                assert a == e, f"{path}: {a!r} != {e!r}"
            return
        assert isinstance(a, np.ndarray), f"{path}: {type(a).__name__}, expected an ndarray"
        assert a.dtype == e.dtype, f"{path}: dtype {a.dtype} != {e.dtype}"
        assert a.shape == e.shape, f"{path}: shape {a.shape} != {e.shape}"
        if e.dtype.kind != "f":
            np.testing.assert_array_equal(a, e, err_msg=path)
            return
        if self.loose:
            if self.finite_only:
                assert np.array_equal(np.isfinite(a), np.isfinite(e)), f"{path}: finite where the reference is not"
            return
        self.values(a, e, path, self.scale)

    @staticmethod
    def values(a: np.ndarray, e: np.ndarray, path: str, scale: float = 1.0) -> None:
        for name, mask in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
            ma, me = mask(a), mask(e)
            if not np.array_equal(ma, me):
                where = np.argwhere(ma != me)[:5].tolist()
                raise AssertionError(f"{path}: {name} positions differ at {where}: got {a}, expected {e}")
        finite = np.isfinite(e)
        if not finite.any():
            return
        tol = TOL[np.dtype(e.dtype)] if e.dtype in TOL else 1e-9
        scale = max(scale, magnitude(e))
        err = np.abs(a[finite].astype(np.float64) - e[finite].astype(np.float64))
        bound = tol * (scale + np.abs(e[finite].astype(np.float64)))
        if (err > bound).any():
            k = int(np.argmax(err - bound))
            raise AssertionError(
                f"{path}: max error {err[k]:.3g} over the bound {bound[k]:.3g} "
                f"(got {a[finite][k]!r}, expected {e[finite][k]!r}, scale {scale:.3g})"
            )


def same_failure(actual: Outcome, expected: Outcome, what: str) -> None:
    """Both calls raised, the same exception type with the same message."""
    assert not actual.ok, f"{what}: returned {actual.value!r} where the reference raised {expected.error!r}"
    assert type(actual.error) is type(expected.error) and str(actual.error) == str(expected.error), (
        f"{what}: raised {actual.error!r}, the reference raised {expected.error!r}"
    )
