"""The cuda backend where there is no GPU (CI, most machines): nothing changes, and every entry point says why.

The GPU-side tests are in tests/cuda/ and skip here; these run everywhere.  Where the cuda backend does
load (a GPU machine), the tests that need its absence skip instead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqcore
from seqcore import kernels, nn
from seqcore.bench import environment
from seqcore.cli.info import format_info
from seqcore.kernels import _validate

no_cuda = pytest.mark.skipif(seqcore.cuda_available(), reason="the cuda backend loads here")


class _FakeDeviceArray:
    """Looks like a CuPy array to the dispatch (its type's module), and like a float32 [2, 3] array to the checks."""

    __module__ = "cupy._core.core"
    dtype = np.dtype(np.float32)
    shape = (2, 3)
    ndim = 2
    size = 6

    class flags:  # noqa: N801  (CuPy's attribute name)
        c_contiguous = True


def test_cuda_is_never_the_default_or_a_fallback():
    assert seqcore.get_backend() in seqcore.BACKENDS
    assert "cuda" not in seqcore.BACKENDS  # the CPU backends: every kernel, on any machine


@no_cuda
def test_asking_for_cuda_says_why_it_is_missing():
    reason = seqcore.unavailable_reason("cuda")
    assert isinstance(reason, str) and "cuda" in reason
    before = seqcore.get_backend()
    with pytest.raises(ImportError, match="cuda"):
        seqcore.set_backend("cuda")
    with pytest.raises(ImportError, match="cuda"):
        with seqcore.use_backend("cuda"):
            pass
    assert seqcore.get_backend() == before


def test_device_arrays_are_recognised_by_type_without_importing_cupy():
    fake = _FakeDeviceArray()
    assert _validate.is_device_array(fake) and _validate.is_device(fake)
    assert _validate.is_device([fake]) and _validate.is_device((fake, 1))
    assert not _validate.is_device(np.zeros(3)) and not _validate.is_device([np.zeros(3)])
    assert not _validate.is_device(None) and not _validate.is_device([]) and not _validate.is_device(3.0)
    assert _validate.as_float_array("x", fake) is fake  # stays where it is


@no_cuda
def test_a_call_holding_a_device_array_never_runs_on_the_cpu():
    with pytest.raises(ImportError, match="cuda"):
        kernels.gelu_forward(_FakeDeviceArray())
    with pytest.raises(ImportError, match="cuda"):
        kernels.softmax(_FakeDeviceArray())


def test_to_device_cpu_keeps_the_model_and_bad_devices_are_named():
    seqcore.set_seed(0)
    model = nn.Sequential([nn.Dense(3)])
    model.build((None, 4))
    arrays = [w.data for w in model.weights]
    assert seqcore.to_device(model, "cpu") is model
    assert all(w.data is a for w, a in zip(model.weights, arrays))  # already there: nothing copied
    x = np.ones((2, 4))
    assert seqcore.to_device(x, "cpu") is x
    moved = seqcore.to_device(seqcore.Tensor(x), "CPU")
    np.testing.assert_array_equal(moved.data, x)
    for bad in ("tpu", "cpu:1", "cuda:x", "", 3):
        with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
            seqcore.to_device(model, bad)
    with pytest.raises(TypeError, match="obj must be a Layer, Model, Tensor or array"):
        seqcore.to_device(object(), "cpu")


@no_cuda
def test_to_device_cuda_says_why_not():
    model = nn.Sequential([nn.Dense(3)])
    model.build((None, 4))
    with pytest.raises(RuntimeError, match="to_device: cannot use 'cuda'"):
        seqcore.to_device(model, "cuda")
    assert all(isinstance(w.data, np.ndarray) for w in model.weights)  # nothing moved


def test_info_reports_the_cuda_backend():
    info = environment()
    cuda = info["cuda"]
    assert set(cuda) >= {"built", "usable"}
    assert cuda["usable"] == seqcore.cuda_available()
    assert "cuda" in info["backends"]
    assert info["backends"]["cuda"]["available"] == cuda["usable"]
    if not cuda["usable"]:
        assert cuda["reason"]
    text = format_info(info)
    assert "cuda (the cuda backend, seqcore._cuda)" in text and "built" in text and "usable" in text
    json.dumps(info)  # `seqcore info --json` stays serialisable
