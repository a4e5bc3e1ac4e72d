"""Side-by-side table: the spectrogram of 100 ten-second clips, seqcore vs scipy.signal.spectrogram.

The workload is the trigger-word model's input: clips of 441,000 samples (10 s at 44.1 kHz), float64, the course's
settings (nfft 200, noverlap 120, fs 8000, scipy's periodic Hann window, one-sided PSD density), 5511 frames x 101
bins a clip.  Each clip is a frequency sweep with a 3 Hz amplitude envelope under white noise (``make_clips``).

Validation first: seqcore's result (cpp backend) and the NumPy reference's must equal scipy's, transposed to
time-major, within 1e-5 relative at every bin, or nothing is timed.  Then the peers run round-robin (the order
rotates each round), each call timed whole (its output allocated and written), and the medians over rounds are
compared.  Peers: ``scipy.signal.spectrogram(x, fs, "hann", nperseg=200, noverlap=120, detrend=False,
scaling="density", mode="psd")`` on the [100, 441000] batch (its result stays [B,F,T]: no transposition is
timed for anyone); ``seqcore.kernels.spectrogram`` on the cpp backend with every usable CPU and with one thread;
the NumPy reference backend (``--skip-reference`` leaves it out).

    PYTHONPATH=python python benchmarks/spectrogram_compare.py [--clips 100] [--seconds 10] [--rounds 3]
                                                             [--skip-reference] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

RATE = 44100
NFFT, NOVERLAP, FS = 200, 120, 8000.0
RTOL = 1e-5


def make_clips(clips: int, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """[clips, seconds * 44100] float64: a sweep between two random frequencies, amplitude-modulated, plus noise."""
    from scipy.signal import chirp

    rng = np.random.default_rng(seed)
    n = int(round(seconds * RATE))
    t = np.arange(n) / RATE
    x = 0.02 * rng.standard_normal((clips, n))
    for k in range(clips):
        f0, f1 = rng.uniform(80.0, 1000.0), rng.uniform(2000.0, 16000.0)
        x[k] += chirp(t, f0=f0, t1=t[-1], f1=f1) * (0.2 + 0.8 * np.sin(2 * np.pi * rng.uniform(1, 5) * t) ** 2)
    return x


def run_scipy(x: np.ndarray) -> np.ndarray:
    from scipy.signal import spectrogram

    return spectrogram(x, FS, "hann", nperseg=NFFT, noverlap=NOVERLAP, detrend=False, scaling="density", mode="psd")[2]


def run_seqcore(x: np.ndarray, backend: str = "cpp") -> np.ndarray:
    import seqcore
    from seqcore import kernels as K

    with seqcore.use_backend(backend):
        return K.spectrogram(x, NFFT, NOVERLAP, FS, "hann")


def max_relative_error(time_major: np.ndarray, scipy_out: np.ndarray) -> float:
    """Largest |ours - scipy| / |scipy| over every bin (scipy's [B,F,T] seen time-major)."""
    want = np.swapaxes(scipy_out, -1, -2)
    if time_major.shape != want.shape:
        return float("inf")
    worst = 0.0
    for b in range(want.shape[0]):  # a clip at a time: no second full-size temporary
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(time_major[b] - want[b]) / np.abs(want[b])
        err[time_major[b] == want[b]] = 0.0  # equal zeros are no error
        worst = max(worst, float(err.max()) if np.isfinite(err).all() else float("inf"))
    return worst


def validate(x: np.ndarray, backends: list[str]) -> dict[str, float]:
    """Each seqcore backend's largest relative error against scipy (all must be <= RTOL before anything is timed)."""
    want = run_scipy(x)
    errors = {}
    for backend in backends:
        got = run_seqcore(x, backend)
        errors[backend] = max_relative_error(got, want)
        del got
    return errors


def _timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    del out  # freed outside the time measured
    return elapsed


def compare(clips: int, seconds: float, rounds: int, reference: bool = True, seed: int = 0) -> dict[str, Any]:
    import scipy

    import seqcore

    x = make_clips(clips, seconds, seed)
    threads = seqcore.get_num_threads()
    many = f"seqcore cpp, {threads} threads"
    peers = ["scipy", many, "seqcore cpp, 1 thread"] + (["numpy reference"] if reference else [])
    errors = validate(x, ["cpp", "reference"] if reference else ["cpp"])
    result: dict[str, Any] = {
        "clips": clips,
        "samples_per_clip": x.shape[1],
        "frames_per_clip": (x.shape[1] - NOVERLAP) // (NFFT - NOVERLAP),
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "threads": threads,
        "max_relative_error": errors,
        "valid": all(e <= RTOL for e in errors.values()),
    }
    if not result["valid"]:
        return result

    def call(peer: str):
        if peer == "scipy":
            return lambda: run_scipy(x)
        if peer == "numpy reference":
            return lambda: run_seqcore(x, "reference")
        return lambda: run_seqcore(x, "cpp")

    times: dict[str, list[float]] = {p: [] for p in peers}
    try:
        for r in range(rounds):
            for k in range(len(peers)):
                peer = peers[(r + k) % len(peers)]
                seqcore.set_num_threads(1 if peer.endswith("1 thread") else threads)
                times[peer].append(_timed(call(peer)))
    finally:
        seqcore.set_num_threads(threads)
    result["times_s"] = times
    result["median_s"] = {p: statistics.median(v) for p, v in times.items()}
    result["cpus"] = os.cpu_count()
    result["usable_cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result["load_average"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"spectrogram of {r['clips']} clips x {r['samples_per_clip']:,} samples (float64), nfft {NFFT}, "
        f"noverlap {NOVERLAP}, fs {FS:g}, Hann: {r['frames_per_clip']} x {NFFT // 2 + 1} a clip; "
        f"scipy {r['scipy_version']}, NumPy {r['numpy_version']}",
        "validation, largest relative error against scipy at any bin: "
        + ", ".join(f"seqcore {b} {e:.1e}" for b, e in r["max_relative_error"].items())
        + ("" if r["valid"] else f"  -- over {RTOL:g}: NOT TIMED"),
    ]
    if not r["valid"]:
        return "\n".join(lines)
    med, times = r["median_s"], r["times_s"]
    base = med["scipy"]
    lines += ["", f"{'peer':<28} {'median s':>9} {'min s':>8} {'spread':>7} {'clips/s':>9} {'vs scipy':>9}  runs"]
    for peer, t in med.items():
        runs = times[peer]
        q = np.percentile(runs, [25, 75]) if len(runs) >= 4 else None
        spread = f"{(q[1] - q[0]) / t:.0%}" if q is not None else "-"
        label = "scipy.signal.spectrogram" if peer == "scipy" else peer
        rate = r["clips"] / t
        lines.append(
            f"{label:<28} {t:>9.3f} {min(runs):>8.3f} {spread:>7} {rate:>9.1f} {base / t:>8.2f}x  {len(runs):>4}"
        )
    if r.get("load_average"):
        lines.append(f"load average at the end: {', '.join(f'{v:.2f}' for v in r['load_average'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=100, help="clips in the batch (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds a clip at 44.1 kHz (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each timing every peer once (default 3)")
    parser.add_argument("--skip-reference", action="store_true", help="leave the NumPy reference out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures to this file (atomically)")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.rounds < 1 or not args.seconds * RATE >= NFFT:
        parser.error("--clips and --rounds must be >= 1, and a clip must hold at least 200 samples")
    import seqcore

    result = compare(args.clips, args.seconds, args.rounds, not args.skip_reference, args.seed)
    print(f"seqcore {seqcore.__version__}, backend cpp, {result.get('usable_cpus')} usable CPUs")
    print(format_report(result))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
