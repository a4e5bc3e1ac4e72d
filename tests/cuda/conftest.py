"""The CUDA tests: they run where the cuda backend loads and skip, saying why, everywhere else.

seqcore.cuda_available() needs seqcore._cuda (built when a CUDA compiler and cuBLAS were
found), CuPy and a device that answers; seqcore.unavailable_reason("cuda") names what is
missing.  On a GPU machine: tools/cuda_check.sh builds, runs these and compute-sanitizer.
"""

from __future__ import annotations

import pytest

import seqcore


@pytest.fixture(autouse=True)
def _requires_cuda():
    if not seqcore.cuda_available():
        pytest.skip(f"no CUDA backend here: {seqcore.unavailable_reason('cuda')}")
