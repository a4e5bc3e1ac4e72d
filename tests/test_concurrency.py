"""Kernels called from several Python threads at once give the serial results, bit for bit.

The cpp kernels release the GIL around their C++ work, so callers really do run side by side, on
top of the GEMM library's own threads (docs/threading.md).  Every case below is run once serially,
then all of them many times over from a pool of threads started together, each result compared
exactly with its serial one.  The sizes include products large enough to run on OpenBLAS's
threads as well as the small ones Eigen runs on the calling thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import seqcore
from helpers import (
    ALL_BACKENDS,
    OPTIMIZERS,
    Case,
    assert_close,
    assert_same_values,
    cell_case,
    clip_norm_case,
    cross_entropy_case,
    embedding_case,
    norm_case,
    optimizer_case,
    recurrent_case,
    require_backend,
    run_case,
    softmax_case,
)
from helpers import conv1d_case as conv_case
from seqcore import kernels as K
from seqcore import use_backend

THREADS = 6
ROUNDS = 3


def cases(big: bool) -> list[Case]:
    out = []
    for seed, dtype in enumerate((np.float32, np.float64)):
        out += [
            recurrent_case("lstm", dtype, seed=seed, reverse=bool(seed)),
            recurrent_case("gru", dtype, seed=seed, reset_after=bool(seed)),
            recurrent_case("rnn", dtype, seed=seed),
            cell_case("lstm", dtype, seed=seed),
            cell_case("gru", dtype, seed=seed),
            softmax_case("softmax", dtype, seed=seed),
            softmax_case("log_softmax", dtype, seed=seed),
            cross_entropy_case(dtype, seed=seed),
            clip_norm_case((dtype,), seed=seed),
            embedding_case(dtype, seed=seed),
            norm_case("layer", dtype, seed=seed),
            norm_case("batch", dtype, seed=seed),
            conv_case(dtype, seed=seed),
            *(optimizer_case(variant, dtype, seed=seed) for variant in OPTIMIZERS),
        ]
    if big:  # per-step products of 2^20+ multiply-adds: OpenBLAS threads inside every caller thread
        out += [
            recurrent_case("lstm", np.float32, B=64, T=6, D=32, H=128, seed=7),
            recurrent_case("gru", np.float64, B=64, T=5, D=32, H=128, seed=8),
            conv_case(np.float32, B=16, T=200, C=64, K=5, F=128, seed=9),
        ]
    return out


def assert_results_close(actual: tuple, expected: tuple, what: str) -> None:
    for part_actual, part_expected in zip(actual, expected):
        for name in part_expected or {}:
            assert_close(part_actual[name], part_expected[name], f"{what} {name}")


def run_concurrently(
    backend: str, work: list[Case], expected: list[tuple], barrier_parties: int, *, exact: bool = True
) -> None:
    start = threading.Barrier(barrier_parties)

    def job(k: int) -> tuple[int, tuple]:
        if k < barrier_parties:
            start.wait()  # the first wave starts together, so the calls overlap from the first one
        return k % len(work), run_case(work[k % len(work)], backend)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(job, range(ROUNDS * len(work))))
    compare = assert_same_values if exact else assert_results_close
    for index, result in results:
        compare(result, expected[index], f"{work[index].label} on {backend}, run from {THREADS} threads")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_kernels_from_many_threads_match_serial_calls(backend: str) -> None:
    require_backend(backend)
    work = cases(big=backend == "cpp")
    expected = [run_case(case, backend) for case in work]
    run_concurrently(backend, work, expected, THREADS)


def test_changing_the_thread_count_while_kernels_run_keeps_results() -> None:
    """set_num_threads from one thread while others multiply: the GEMM library's count is guarded.

    OpenBLAS's last bits depend on its thread count, so results here equal the serial ones to the
    kernels' tolerance; bit-for-bit equality holds for a fixed count (the test above).
    """
    require_backend("cpp")
    work = cases(big=True)[-3:]
    before = seqcore.get_num_threads()
    expected = [run_case(case, "cpp") for case in work]
    stop = threading.Event()

    def toggle() -> None:
        n = 1
        while not stop.is_set():
            seqcore.set_num_threads(n)
            n = 3 - n

    toggler = threading.Thread(target=toggle)
    toggler.start()
    try:
        run_concurrently("cpp", work, expected, 2, exact=False)
    finally:
        stop.set()
        toggler.join()
        seqcore.set_num_threads(before)


def test_the_gil_is_released_during_a_kernel() -> None:
    """While one thread is inside a long LSTM call, another Python thread keeps running."""
    require_backend("cpp")
    rng = np.random.default_rng(0)
    B, T, D, H = 8, 400, 64, 128
    args = [rng.standard_normal(s) for s in ((B, T, D), (B, H), (B, H), (D, 4 * H), (H, 4 * H), (4 * H,))]
    entered, done = threading.Event(), threading.Event()
    ticks = 0

    def call() -> None:
        entered.set()
        with use_backend("cpp"):
            K.lstm_forward(*args)
        done.set()

    worker = threading.Thread(target=call)
    worker.start()
    entered.wait()
    while not done.is_set():  # with the GIL held by the kernel this loop would not get to run at all
        ticks += 1
    worker.join()
    # A call of this size takes tens of milliseconds; a thread holding the GIL would allow only the few
    # ticks before it entered C++ (the interpreter's switch interval is 5 ms).
    assert ticks > 1000, f"the main thread advanced only {ticks} times while lstm_forward ran"
