"""pytest-benchmark setup for seqcore: import path, thread count, a header naming what runs.

Environment variables:
    SEQCORE_BENCH_THREADS=N   threads for every peer (seqcore cpp/numba, torch; default: all usable CPUs)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("seqcore") is None:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "python"))


def _threads() -> int:
    from seqcore import bench

    text = os.environ.get("SEQCORE_BENCH_THREADS", "").strip()
    if not text:
        return bench.default_threads()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise pytest.UsageError(f"SEQCORE_BENCH_THREADS must be a positive integer, got {text!r}")
    return value


def pytest_report_header(config: pytest.Config) -> list[str]:
    from seqcore import bench

    lines = [f"seqcore bench threads: {_threads()} (SEQCORE_BENCH_THREADS)"]
    for peer in bench.PEERS:
        reason = bench.peer_unavailable_reason(peer)
        lines.append(f"seqcore peer {peer}: {'available' if reason is None else 'skipped: ' + reason}")
    return lines


@pytest.fixture(scope="session", autouse=True)
def bench_threads() -> Iterator[int]:
    """Every benchmark of the session runs with the same thread count in all peers."""
    from seqcore import bench

    with bench.thread_scope(_threads()) as threads:
        yield threads
