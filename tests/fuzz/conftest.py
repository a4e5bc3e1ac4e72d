"""Fuzz suite setup: the cpp backend must load, and the examples each entry point ran are reported.

The example count comes from the Hypothesis profile (tests/conftest.py): "ci" runs 30 a
test, "sanitize" 1000 (HYPOTHESIS_PROFILE=sanitize, for the sanitizer build); the numba
backend runs a sixth of that.  Each example runs under a watchdog and a memory cap
(``fuzz_strategies.example``):
    SEQCORE_FUZZ_TIMEOUT    seconds an example may run before every stack is dumped and the
                            process exits (default 120): a hang fails the run
    SEQCORE_FUZZ_HANG_LOG   where that dump goes when the terminal's stderr cannot be had from
                            pytest's capture (default: a file in the temp folder)
    SEQCORE_FUZZ_MEMORY_GB  address space an example may add (default 2; not under ASan)
"""

from __future__ import annotations

import os

import pytest
from fuzz_strategies import COUNTS, watchdog_stream


def pytest_configure(config) -> None:
    """Point the watchdog at the terminal: pytest keeps the real stderr as a saved descriptor of its
    capture (internal, so any surprise there leaves the watchdog on HANG_LOG)."""
    if "SEQCORE_FUZZ_HANG_LOG" in os.environ:
        return
    try:
        capman = config.pluginmanager.getplugin("capturemanager")
        fd = capman._global_capturing.err.targetfd_save
        watchdog_stream(os.fdopen(os.dup(fd), "w"))
    except (AttributeError, OSError, TypeError):
        pass


@pytest.fixture(autouse=True)
def _cpp_backend() -> None:
    from helpers import require_backend

    require_backend("cpp")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not COUNTS:
        return
    terminalreporter.section("fuzz examples per entry point")
    for group in ("kernels.", "_core.", "numba.", "blas."):
        entries = sorted((k, n) for k, n in COUNTS.items() if k.startswith(group))
        if entries:
            terminalreporter.write_line(
                f"fuzz examples per entry point ({group.rstrip('.')}, min {min(n for _, n in entries)}): "
                + ", ".join(f"{k[len(group) :]}={n}" for k, n in entries)
            )
