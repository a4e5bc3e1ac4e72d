"""LeakSanitizer pass over seqcore's native code (run by tools/sanitize.sh under the ASan build).

The parent re-runs this file as a child with leak detection on, the child drives every kernel family
forward and backward (and through its error paths, where a C++ exception unwinds past allocations),
and LSan reports at the child's exit.  CPython and its libraries leave objects behind at exit that LSan
also reports, so the parent keeps only the leak records whose stack passes through seqcore's extension
and fails if there is any.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import subprocess
import sys
import tempfile

ROUNDS = int(os.environ.get("LEAK_CHECK_ROUNDS", "200"))


def drive() -> None:
    import numpy as np

    import seqcore
    from seqcore import kernels as K

    seqcore.set_backend("cpp")
    rng = np.random.default_rng(0)

    def r(*shape: int, dtype=np.float64) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    def bad(fn, *args) -> None:
        try:
            fn(*args)
        except (TypeError, ValueError):
            return
        raise AssertionError(f"{fn.__name__} accepted bad arguments")

    for dtype in (np.float32, np.float64):
        B, T, D, H, C = 3, 5, 4, 6, 7
        x, h0, c0 = r(B, T, D, dtype=dtype), r(B, H, dtype=dtype), r(B, H, dtype=dtype)
        lengths = np.array([5, 2, 0])
        for _ in range(ROUNDS):
            y, hT, cT, cache = K.lstm_forward(
                x, h0, c0, r(D, 4 * H, dtype=dtype), r(H, 4 * H, dtype=dtype), r(4 * H, dtype=dtype), lengths=lengths
            )
            K.lstm_backward(cache, dy=y, dhT=hT, dcT=cT)
            K.lstm_cell(x[:, 0], h0, c0, r(D, 4 * H, dtype=dtype), r(H, 4 * H, dtype=dtype), r(4 * H, dtype=dtype))
            for reset_after in (True, False):
                b = r(2, 3 * H, dtype=dtype) if reset_after else r(3 * H, dtype=dtype)
                y, hT, cache = K.gru_forward(
                    x,
                    h0,
                    r(D, 3 * H, dtype=dtype),
                    r(H, 3 * H, dtype=dtype),
                    b,
                    reset_after=reset_after,
                    lengths=lengths,
                    reverse=True,
                )
                K.gru_backward(cache, dy=y, dhT=hT)
                K.gru_cell(x[:, 0], h0, r(D, 3 * H, dtype=dtype), r(H, 3 * H, dtype=dtype), b, reset_after=reset_after)
            y, hT, cache = K.rnn_forward(x, h0, r(D, H, dtype=dtype), r(H, H, dtype=dtype), r(H, dtype=dtype))
            K.rnn_backward(cache, dy=y)
            K.rnn_cell(x[:, 0], h0, r(D, H, dtype=dtype), r(H, H, dtype=dtype), r(H, dtype=dtype))

            logits = r(B * T, C, dtype=dtype)
            p = K.softmax(logits)
            K.softmax_backward(p, logits)
            q = K.log_softmax(logits)
            K.log_softmax_backward(q, logits)
            loss, cache = K.softmax_cross_entropy(logits, rng.integers(0, C, B * T))
            K.softmax_cross_entropy_backward(cache)
            grads = [r(3, 4, dtype=dtype), r(5, dtype=dtype)]
            K.clip_by_value(grads, -0.5, 0.5)
            K.clip_by_global_norm(grads, 1.0)

            param = r(10, dtype=dtype)
            K.sgd_update(param, r(10, dtype=dtype), np.zeros(10, dtype), lr=0.1, momentum=0.9)
            K.adam_update(
                param,
                r(10, dtype=dtype),
                np.zeros(10, dtype),
                np.zeros(10, dtype),
                lr=0.1,
                beta1=0.9,
                beta2=0.999,
                eps=1e-7,
                step=1,
            )
            K.rmsprop_update(
                param, r(10, dtype=dtype), np.zeros(10, dtype), None, lr=0.1, rho=0.9, momentum=0, eps=1e-7
            )
            K.adagrad_update(param, r(10, dtype=dtype), np.ones(10, dtype), lr=0.1, eps=1e-7)

            ids = rng.integers(0, 9, (B, T))
            E = K.embedding_forward(r(9, 4, dtype=dtype), ids)
            K.embedding_backward(ids, E, 9)
            out, cache = K.layer_norm_forward(x, r(D, dtype=dtype), r(D, dtype=dtype), eps=1e-5)
            K.layer_norm_backward(cache, out)
            out, _, _, cache = K.batch_norm_forward(x, r(D, dtype=dtype), r(D, dtype=dtype), eps=1e-3)
            K.batch_norm_backward(cache, out)
            out, cache = K.conv1d_forward(x, r(3, D, 2, dtype=dtype), r(2, dtype=dtype), padding=(1, 1))
            K.conv1d_backward(cache, out)
            state = K.BeamState.initial(B, 2, 4)
            lp = np.log(rng.dirichlet(np.ones(C), 2 * B)).astype(dtype)
            parents = K.beam_search_step(state, lp, np.arange(B), 0, eos=0, length_norm=np.ones(4))
            K.gather_rows(x, parents.reshape(-1) // 2)
            K.spectrogram(r(3, 9000, dtype=dtype))  # frames enough for the worker threads, each with its FFT plan
            K.spectrogram(r(500, dtype=dtype), 63, 10, 8000.0, np.hanning(63))

            # Error paths: C++ exceptions thrown after outputs were allocated.
            core = seqcore.backends.cpp._core
            W, U, b = r(D, 4 * H, dtype=dtype), r(H, 4 * H, dtype=dtype), r(4 * H, dtype=dtype)
            bad(core.lstm_forward, x, h0, c0, W, U, b, np.array([1, 2, 99]), False)
            bad(core.softmax, np.zeros((2, 3), np.int32))
            bad(core.embedding_forward, r(9, 4, dtype=dtype), np.array([[1, 2]], np.int32))
            lp[1, 2] = np.nan  # raised after the kernel's scratch and the parents were allocated
            bad(core.beam_search_step, *K.BeamState.initial(B, 2, 4), lp, np.arange(B), 0, 0, np.ones(4))
            bad(core.spectrogram, r(2, 150, dtype=dtype), np.hanning(200), 120, 1.0)


def main() -> int:
    if sys.argv[1:] == ["--child"]:
        drive()
        return 0
    if not hasattr(ctypes.CDLL(None), "__asan_init"):
        print("leak_check.py: run me with the ASan runtime preloaded, against the ASan build (tools/sanitize.sh)")
        return 2
    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ)
        # Only the child checks for leaks: this process's own exit would add CPython's leftovers again.
        env["ASAN_OPTIONS"] = f"detect_leaks=1:allocator_may_return_null=1:log_path={logs}/lsan:exitcode=0"
        child = subprocess.run([sys.executable, __file__, "--child"], env=env)
        if child.returncode != 0:
            print(f"leak_check.py: the driver failed with exit code {child.returncode}")
            return 1
        report = "".join(open(path, encoding="utf-8", errors="replace").read() for path in glob.glob(f"{logs}/lsan*"))
    records = re.split(r"\n(?=(?:Direct|Indirect) leak of )", report)
    records = [rec for rec in records if re.match(r"(?:Direct|Indirect) leak of ", rec)]
    ours = [rec for rec in records if re.search(r"seqcore|_core\.cpython", rec)]
    print(f"leak_check.py: {len(records)} leak records at exit, {len(ours)} through seqcore's extension")
    for rec in ours:
        print(rec)
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main())
