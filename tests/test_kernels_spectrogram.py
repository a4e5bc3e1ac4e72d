"""The spectrogram kernel: every backend against the NumPy reference, the reference and the backends against
scipy.signal.spectrogram and matplotlib's specgram, bad input, NaN, layouts, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import seqcore
from helpers import ALL_BACKENDS, DTYPES, FAST_BACKENDS, Case, Tolerance, assert_close, check_against_reference
from seqcore import kernels as K
from seqcore import use_backend

signal = pytest.importorskip("scipy.signal")

RATE = 44100  # the course's clips


def noise(n: int, seed: int = 0, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Random audio: white noise at a speech-like level."""
    return 0.3 * np.random.default_rng([seed, n]).standard_normal((*shape, n))


def chirp(n: int, seed: int = 0) -> np.ndarray:
    """A real-ish signal: a 100 Hz -> 15 kHz sweep, amplitude-modulated at 3 Hz, under faint noise (a dynamic range
    of about 1e13 between the loudest and the quietest bin, so the small bins are tested too)."""
    t = np.arange(n) / RATE
    sweep = signal.chirp(t, f0=100.0, t1=t[-1], f1=15000.0) * (0.2 + 0.8 * np.sin(2 * np.pi * 3 * t) ** 2)
    return sweep + 0.01 * np.random.default_rng([seed, n]).standard_normal(n)


def scipy_psd(x: np.ndarray, nfft: int, noverlap: int, fs: float, window) -> np.ndarray:
    """scipy's [..., F, T] PSD, time-major: [..., T, F]."""
    f = signal.spectrogram(x, fs, window, nperseg=nfft, noverlap=noverlap, detrend=False, scaling="density", mode="psd")
    return np.swapaxes(f[2], -1, -2)


def array_window(nfft: int) -> np.ndarray:
    """An asymmetric window given as an array (a Kaiser window tilted), nothing the names produce."""
    return np.kaiser(nfft, 6.0) * np.linspace(0.6, 1.0, nfft)


WINDOWS = ("hann", "hamming", "boxcar", "array")


def window_arg(kind: str, nfft: int):
    return array_window(nfft) if kind == "array" else kind


# (label, nfft, noverlap, L): the course's settings; an odd nfft; nfft not a multiple of 4 (kissfft's full complex
# transform rather than its half-length one); a last partial frame dropped (L - noverlap not a multiple of the hop);
# the shortest clip (one frame); prime factors 7 and 11 (kissfft's generic butterfly); a prime factor above
# SPECTROGRAM_MAX_PRIME (the cpp backend hands it to the reference); no overlap; the largest overlap; the smallest nfft
GEOMETRIES = [
    ("course", 200, 120, 4000),
    ("odd nfft", 225, 100, 3001),
    ("nfft 2 mod 4", 150, 51, 2999),
    ("partial frame dropped", 200, 120, 120 + 80 * 20 + 79),
    ("one frame", 64, 10, 64),
    ("factors 7 and 11", 154, 77, 2000),
    ("prime factor 101", 202, 101, 2000),
    ("no overlap", 100, 0, 1050),
    ("hop 1", 16, 15, 300),
    ("nfft 2", 2, 1, 50),
    ("nfft 3", 3, 0, 50),
]


def frames_of(L: int, nfft: int, noverlap: int) -> int:
    return (L - noverlap) // (nfft - noverlap)


# ---------------------------------------------------------------- backends against the reference


def spectrogram_case(dtype, shape, nfft, noverlap, window, *, fs: float = 8000.0, seed: int = 0, label: str = ""):
    def make_inputs():
        x = chirp(shape[-1], seed) if len(shape) == 1 else noise(shape[-1], seed, shape[:-1])
        return {"x": x.astype(dtype)}

    def forward(x):
        return {"psd": K.spectrogram(x, nfft, noverlap, fs, window_arg(window, nfft))}, None

    text = f"spectrogram {label} {np.dtype(dtype)} shape={shape} nfft={nfft} noverlap={noverlap} window={window}"
    return Case(text, make_inputs, forward)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("label", "nfft", "noverlap", "L"), GEOMETRIES)
@pytest.mark.parametrize("window", WINDOWS)
def test_backends_match_reference(backend, dtype, label, nfft, noverlap, L, window):
    check_against_reference(spectrogram_case(dtype, (3, L), nfft, noverlap, window, label=label), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backends_match_reference_on_a_course_clip(backend, dtype):
    """One 10 s clip at 44.1 kHz (the course's 5511 x 101), and a batch big enough to be split among threads."""
    check_against_reference(spectrogram_case(dtype, (441000,), 200, 120, "hann", label="10 s clip"), backend)
    check_against_reference(spectrogram_case(dtype, (5, 30000), 200, 120, "hann", fs=44100.0, seed=2), backend)


# ---------------------------------------------------------------- scipy and matplotlib

#: float64: pointwise relative (no absolute slack), however small the bin
SCIPY_F64 = Tolerance(rtol=1e-5, atol=0.0)
#: float32 against scipy's float32 output: scipy's FFT runs in float32, so its small bins carry errors of
#: ~1e-7 of the largest bin (seen 2e-2 relative on bins 1e13 below the largest); ours are computed in double
SCIPY_F32 = Tolerance(rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("source", ["noise", "chirp"])
@pytest.mark.parametrize(("label", "nfft", "noverlap", "L"), GEOMETRIES[:5])
def test_equals_scipy_spectrogram(backend, dtype, window, source, label, nfft, noverlap, L):
    x = (noise(L, 1) if source == "noise" else chirp(L, 1)).astype(dtype)
    w = window_arg(window, nfft)
    with use_backend(backend):
        ours = K.spectrogram(x, nfft, noverlap, 8000.0, w)
    assert ours.shape == (frames_of(L, nfft, noverlap), nfft // 2 + 1) and ours.dtype == dtype
    if dtype == np.float64:
        assert_close(ours, scipy_psd(x, nfft, noverlap, 8000.0, w), f"{label} vs scipy", SCIPY_F64)
    else:
        assert_close(ours, scipy_psd(x, nfft, noverlap, 8000.0, w), f"{label} vs scipy float32", SCIPY_F32)
        # computed in double: scipy's float64 result on the same float32 samples, rounded, bin for bin
        exact = scipy_psd(x.astype(np.float64), nfft, noverlap, 8000.0, w).astype(np.float32)
        assert_close(ours, exact, f"{label} vs scipy in float64", Tolerance(rtol=1e-6, atol=0.0))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_equals_scipy_on_a_batch_of_clips(backend, dtype):
    x = np.stack([chirp(9001, 3), noise(9001, 4), np.zeros(9001), chirp(9001, 5)[::-1]]).astype(dtype)
    with use_backend(backend):
        ours = K.spectrogram(x, 200, 120, 44100.0, "hamming")
    want = scipy_psd(x, 200, 120, 44100.0, "hamming")
    assert ours.shape == want.shape == (4, frames_of(9001, 200, 120), 101)
    assert not ours[2].any()  # silence is exactly zero
    tol = SCIPY_F64 if dtype == np.float64 else SCIPY_F32
    for b in (0, 1, 3):
        assert_close(ours[b], want[b], f"clip {b}", tol)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("source", ["noise", "chirp"])
def test_equals_matplotlib_specgram(backend, source):
    """The course's call, plt.specgram(x, 200, 8000, noverlap=120), is mlab.specgram with matplotlib's window,
    np.hanning(200) (symmetric, unlike scipy's periodic "hann"); both give the one-sided PSD density."""
    mlab = pytest.importorskip("matplotlib.mlab")
    x = noise(44100, 6) if source == "noise" else chirp(44100, 6)
    want, freqs, times = mlab.specgram(x, NFFT=200, Fs=8000, noverlap=120, window=np.hanning(200))
    with use_backend(backend):
        ours = K.spectrogram(x, 200, 120, 8000.0, np.hanning(200))
    assert_close(ours, want.T, "vs mlab.specgram", SCIPY_F64)
    assert freqs.shape == (101,) and times.shape == (549,)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_course_shapes(backend):
    """10 s at 44.1 kHz with the defaults: Tx = 5511 frames of 101 bins; float32 stays float32."""
    x = np.zeros(441000, np.float32)
    x[::441] = 1.0
    with use_backend(backend):
        one = K.spectrogram(x)
        two = K.spectrogram(np.stack([x, -x]))
    assert one.shape == (5511, 101) and one.dtype == np.float32
    assert two.shape == (2, 5511, 101) and two.dtype == np.float32
    np.testing.assert_array_equal(two[0], one)
    np.testing.assert_array_equal(two[1], one)  # the power of -x is the power of x


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_sine_lands_in_its_bin(backend):
    """A sine of frequency k * fs / nfft puts (nearly) all the power in bin k, and the PSD integrates to the
    signal's power (Parseval, the density scaling): mean(x**2) = 0.5 for a unit sine."""
    nfft, fs, k = 200, 8000.0, 25
    t = np.arange(20000)
    x = np.sin(2 * np.pi * k * t / nfft)
    with use_backend(backend):
        psd = K.spectrogram(x, nfft, 100, fs, "boxcar")
    assert np.all(psd.argmax(axis=1) == k)
    np.testing.assert_allclose(psd.sum(axis=1) * fs / nfft, 0.5, rtol=1e-9)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch(backend, dtype):
    with use_backend(backend):
        out = K.spectrogram(np.zeros((0, 1000), dtype))
    assert out.shape == (0, frames_of(1000, 200, 120), 101) and out.dtype == dtype


# ---------------------------------------------------------------- NaN, layouts, threads


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's FFT (the reference) warns of Inf - Inf
@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_spoil_their_frames_only(backend, dtype, bad):
    """NaN in, NaN out: every bin of every frame holding a NaN sample is NaN (an infinite sample gives Inf or NaN
    bins), and the other frames are what they would be without it.  No error, no crash."""
    nfft, noverlap = 200, 120
    x = noise(3000, 7, (2,)).astype(dtype)
    clean = K.spectrogram(x, nfft, noverlap)
    x[1, 1234] = bad
    with use_backend(backend):
        out = K.spectrogram(x, nfft, noverlap)
    starts = np.arange(out.shape[1]) * (nfft - noverlap)
    hit = (starts <= 1234) & (1234 < starts + nfft)
    assert hit.sum() == 3
    if np.isnan(bad):
        assert np.isnan(out[1, hit]).all()
    else:
        assert not np.isfinite(out[1, hit]).any()
    assert_close(out[1, ~hit], clean[1, ~hit], "frames without the bad sample")
    assert_close(out[0], clean[0], "the other clip")


def layouts(x: np.ndarray) -> dict[str, object]:
    """The same values in other memory layouts."""
    gaps = np.full((x.shape[0], 2 * x.shape[1]), 7e37, x.dtype)
    gaps[:, ::2] = x
    buf = np.empty(x.nbytes + 1, np.uint8)
    misaligned = buf[1:].view(x.dtype).reshape(x.shape)
    misaligned[...] = x
    flip = x[::-1, ::-1].copy()[::-1, ::-1]
    return {
        "strided": gaps[:, ::2],
        "fortran": np.asfortranarray(x),
        "negative strides": flip,
        "misaligned": misaligned,
        "big-endian": x.astype(x.dtype.newbyteorder(">")),
        "transposed copy": x.T.copy().T,
        "list": x.tolist(),
    }


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_input_gives_the_same_result(backend, dtype):
    """Input of any layout is copied to a C-contiguous one (never refused), so every layout gives the same
    numbers (a kernel reading a strided view's gaps would see 7e37)."""
    x = noise(1500, 8, (3,)).astype(dtype)
    w = array_window(160)
    with use_backend(backend):
        want = K.spectrogram(x, 160, 40, 8000.0, w)
        for name, arg in layouts(x).items():
            got = K.spectrogram(arg, 160, 40, 8000.0, w)
            want_dtype = want if name != "list" else K.spectrogram(x.astype(np.float64), 160, 40, 8000.0, w)
            assert_close(got, want_dtype, name, Tolerance(0.0, 0.0))
        for name, rows in layouts(w[None, :]).items():  # the window in any layout, and as a list
            assert_close(K.spectrogram(x, 160, 40, 8000.0, rows[0]), want, f"window {name}", Tolerance(0.0, 0.0))


def test_result_does_not_depend_on_the_thread_count():
    """Each frame is transformed on its own, so any split among threads gives the same bits."""
    x = noise(44100, 9, (6,))
    threads = seqcore.get_num_threads()
    try:
        out = []
        for n in (1, 2, 3, 8):
            seqcore.set_num_threads(n)
            with use_backend("cpp"):
                out.append(K.spectrogram(x))
    finally:
        seqcore.set_num_threads(threads)
    for other in out[1:]:
        np.testing.assert_array_equal(other, out[0])


def test_many_callers_at_once_match_serial_calls():
    """The binding releases the GIL around the transform: six Python threads calling it at once (each call also
    threaded inside) get the serial results, bit for bit, on float32 and float64."""
    inputs = [noise(20000 + 777 * k, k, (3,)).astype(DTYPES[k % 2]) for k in range(6)]
    with use_backend("cpp"):
        expected = [K.spectrogram(x, 200, 120, 8000.0, "hann") for x in inputs]
    start = threading.Barrier(6)

    def job(k: int) -> np.ndarray:
        if k < 6:
            start.wait()
        with use_backend("cpp"):
            return K.spectrogram(inputs[k % 6], 200, 120, 8000.0, "hann")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(job, range(18)))
    for k, got in enumerate(results):
        np.testing.assert_array_equal(got, expected[k % 6])


# ---------------------------------------------------------------- bad input


BAD_CALLS = [
    # (what, kwargs, exception, words the message must hold)
    ("clip shorter than nfft", {"x": np.zeros(199)}, ValueError, ["x", "nfft=200"]),
    ("rows shorter than nfft", {"x": np.zeros((3, 150))}, ValueError, ["x", "nfft=200"]),
    ("empty clip", {"x": np.zeros(0)}, ValueError, ["x"]),
    ("3-D input", {"x": np.zeros((2, 3, 400))}, ValueError, ["x", "[L] or [B,L]"]),
    ("0-D input", {"x": np.float64(1.0)}, ValueError, ["x", "[L] or [B,L]"]),
    ("integer samples", {"x": np.zeros(400, np.int16)}, TypeError, ["x", "float32 or float64"]),
    ("complex samples", {"x": np.zeros(400, np.complex128)}, TypeError, ["x"]),
    ("None samples", {"x": None}, TypeError, ["x"]),
    ("noverlap = nfft", {"noverlap": 200}, ValueError, ["noverlap", "[0, nfft=200)"]),
    ("noverlap > nfft", {"noverlap": 500}, ValueError, ["noverlap"]),
    ("negative noverlap", {"noverlap": -1}, ValueError, ["noverlap"]),
    ("float noverlap", {"noverlap": 120.0}, TypeError, ["noverlap", "int"]),
    ("nfft 1", {"nfft": 1, "noverlap": 0}, ValueError, ["nfft", "at least 2"]),
    ("nfft 0", {"nfft": 0, "noverlap": 0}, ValueError, ["nfft"]),
    ("bool nfft", {"nfft": True, "noverlap": 0}, TypeError, ["nfft"]),
    ("huge nfft", {"nfft": 2**40, "noverlap": 0}, ValueError, ["x", "nfft"]),
    ("zero fs", {"fs": 0.0}, ValueError, ["fs"]),
    ("negative fs", {"fs": -8000.0}, ValueError, ["fs"]),
    ("NaN fs", {"fs": float("nan")}, ValueError, ["fs"]),
    ("infinite fs", {"fs": float("inf")}, ValueError, ["fs"]),
    ("string fs", {"fs": "8000"}, TypeError, ["fs"]),
    ("unknown window name", {"window": "hanning"}, ValueError, ["window", "'hann'", "hanning"]),
    ("window None", {"window": None}, TypeError, ["window"]),
    ("window too short", {"window": np.ones(199)}, ValueError, ["window", "(200,)"]),
    ("window 2-D", {"window": np.ones((1, 200))}, ValueError, ["window"]),
    ("window of NaN", {"window": np.full(200, np.nan)}, ValueError, ["window", "finite"]),
    ("window of zeros", {"window": np.zeros(200)}, ValueError, ["window", "zeros"]),
    ("complex window", {"window": np.ones(200, np.complex128)}, TypeError, ["window"]),
    ("boolean window", {"window": np.ones(200, bool)}, TypeError, ["window"]),
    ("window of tiny values", {"window": np.full(200, 1e-200)}, ValueError, ["window"]),
    ("window of huge values", {"window": np.full(200, 1e200)}, ValueError, ["window"]),
]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(("what", "kwargs", "exc", "words"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_names_the_argument(backend, what, kwargs, exc, words):
    args = {"x": np.zeros(1000), "nfft": 200, "noverlap": 120, "fs": 8000.0, "window": "hann", **kwargs}
    with use_backend(backend), pytest.raises(exc) as info:
        K.spectrogram(**args)
    for word in words:
        assert word in str(info.value), f"{what}: {info.value!r} does not mention {word!r}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nfft", [7, 13, 37, 101, 202, 1009])
def test_native_transform_for_large_prime_factors(dtype, nfft):
    """The cpp backend hands an nfft with a prime factor above SPECTROGRAM_MAX_PRIME to the reference (the native
    transform's butterfly for it is O(p^2)); called directly, the native kernel is right for those too."""
    from seqcore import _core
    from seqcore.backends import cpp
    from seqcore.backends.reference import spectrogram as reference

    x = noise(3 * nfft + 5, nfft, (2,)).astype(dtype)
    w = array_window(nfft)
    scale = 1.0 / (8000.0 * float(w @ w))
    want = reference(x, w, nfft // 3, scale)
    assert_close(_core.spectrogram(x, w, nfft // 3, scale), want, f"native nfft={nfft}")
    with use_backend("cpp"):
        got = K.spectrogram(x, nfft, nfft // 3, 8000.0, w)
    if cpp._largest_prime_factor(nfft) > cpp.SPECTROGRAM_MAX_PRIME:
        np.testing.assert_array_equal(got, want)  # the reference's own result
    else:
        assert_close(got, want, f"cpp nfft={nfft}")


def test_binding_checks_its_arguments():
    """seqcore._core.spectrogram, called directly (bypassing seqcore.kernels), refuses what would crash it."""
    from seqcore import _core

    x, w = np.zeros((2, 400)), np.hanning(200)
    bad = [
        ((np.zeros(400), w, 120, 1.0), ValueError, "x must have 2 dimensions"),
        ((x, w[None], 120, 1.0), ValueError, "window must have 1 dimensions"),
        ((x, w.astype(np.float32), 120, 1.0), TypeError, "window must have dtype float64"),
        ((x.astype(np.int32), w, 120, 1.0), TypeError, "x must have dtype float32 or float64"),
        ((x[:, ::2], w, 120, 1.0), ValueError, "x must be C-contiguous"),
        ((x, w[:1], 0, 1.0), ValueError, "window must have between 2"),
        ((x, w, 200, 1.0), ValueError, "noverlap must lie in [0, nfft) = [0, 200)"),
        ((x, w, -1, 1.0), ValueError, "noverlap"),
        ((x[:, :199].copy(), w, 120, 1.0), ValueError, "x must have at least nfft = 200 samples per row"),
        ((x, w, 120, float("nan")), ValueError, "scale must be positive and finite"),
        ((x, w, 120, 0.0), ValueError, "scale must be positive and finite"),
    ]
    for args, exc, words in bad:
        with pytest.raises(exc) as info:
            _core.spectrogram(*args)
        assert words in str(info.value), f"{info.value!r} does not say {words!r}"


def test_seqcore_info_says_numba_uses_the_reference():
    from seqcore import bench
    from seqcore.cli.info import format_info

    info = bench.environment()
    if not info["backends"]["numba"]["available"]:
        pytest.skip("numba is not installed")
    assert "spectrogram" in info["backends"]["numba"]["notes"]
    assert "spectrogram: numba backend uses the NumPy reference (no FFT in Numba)" in format_info(info)
    if info["backends"]["cpp"]["available"]:
        assert "spectrogram" in info["backends"]["cpp"]["notes"]
        assert "prime factor above 31 runs on the NumPy reference" in format_info(info)
