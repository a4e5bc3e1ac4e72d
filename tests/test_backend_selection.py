"""Backend selection: set_backend, use_backend, SEQCORE_BACKEND, fallback, get_backend, thread counts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import seqcore
from helpers import FAST_BACKENDS, require_backend
from seqcore import _backend, get_backend, set_backend, use_backend
from seqcore import kernels as K

PYTHON_DIR = Path(seqcore.__file__).resolve().parents[1]


def test_backends_constant():
    assert seqcore.BACKENDS == ("cpp", "numba", "reference")


def test_reference_always_loads():
    module = _backend.load("reference")
    assert module.NAME == "reference"
    assert _backend.available("reference")
    assert _backend.unavailable_reason("reference") is None


@pytest.mark.parametrize("name", seqcore.BACKENDS)
def test_loaded_backends_are_complete(name):
    """A backend that loads is a real one: its NAME and every kernel (not, say, an empty namespace package)."""
    require_backend(name)
    module = _backend.load(name)
    assert module.NAME == name
    assert _backend.available(name)


@pytest.mark.parametrize("name", seqcore.BACKENDS)
def test_use_backend(fresh_selection, name):
    require_backend(name)
    with use_backend(name) as module:
        assert get_backend() == name
        assert module.NAME == name
        y = K.softmax(np.array([0.0, 0.0]))
    np.testing.assert_allclose(y, [0.5, 0.5])


@pytest.mark.parametrize("name", seqcore.BACKENDS)
def test_set_backend(fresh_selection, name):
    require_backend(name)
    set_backend(name)
    assert get_backend() == name
    set_backend("reference")
    assert get_backend() == "reference"


def test_names_are_case_insensitive(fresh_selection):
    set_backend("Reference")
    assert get_backend() == "reference"
    with use_backend("REFERENCE"):
        assert get_backend() == "reference"


@pytest.mark.parametrize("bad", ["torch", "", "ref", "cpp ", None, 3, ["reference"]])
def test_invalid_names(fresh_selection, bad):
    for fn in (set_backend, _backend.load):
        with pytest.raises(ValueError, match="backend must be one of cpp, numba, reference") as info:
            fn(bad)
        assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="backend must be one of"):
        with use_backend(bad):
            pass  # pragma: no cover
    assert _backend._chosen is None  # a failed set_backend changes nothing


@pytest.mark.parametrize("fast", FAST_BACKENDS)
def test_use_backend_nests_and_restores(fresh_selection, fast):
    require_backend(fast)
    set_backend("reference")
    with use_backend(fast):
        assert get_backend() == fast
        with use_backend("reference"):
            assert get_backend() == "reference"
            with use_backend(fast):
                assert get_backend() == fast
            assert get_backend() == "reference"
        assert get_backend() == fast
    assert get_backend() == "reference"


@pytest.mark.parametrize("fast", FAST_BACKENDS)
def test_use_backend_beats_set_backend(fresh_selection, fast):
    require_backend(fast)
    set_backend(fast)
    with use_backend("reference"):
        assert get_backend() == "reference"
        set_backend(fast)  # inside the block, set_backend does not override the block
        assert get_backend() == "reference"
    assert get_backend() == fast


def test_use_backend_restores_after_exception(fresh_selection):
    set_backend("reference")
    other = next((n for n in FAST_BACKENDS if _backend.available(n)), "reference")
    with pytest.raises(RuntimeError, match="boom"):
        with use_backend(other):
            with use_backend("reference"):
                raise RuntimeError("boom")
    assert get_backend() == "reference"
    assert _backend._scoped.get() is None
    with pytest.raises(ValueError):  # a kernel error inside the block
        with use_backend(other):
            K.softmax(np.zeros((2, 0)))
    assert _backend._scoped.get() is None


@pytest.mark.parametrize("fast", FAST_BACKENDS)
def test_use_backend_is_per_thread(fresh_selection, fast):
    """A use_backend block in one thread does not leak into threads it did not start in."""
    require_backend(fast)
    set_backend("reference")
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        inside.wait(5)
        seen["other"] = get_backend()
        release.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with use_backend(fast):
        inside.set()
        release.wait(5)
        seen["self"] = get_backend()
    thread.join(5)
    assert seen == {"self": fast, "other": "reference"}


# ---------------------------------------------------------------- unavailable backends and the fallback


@pytest.fixture
def broken(fresh_selection, monkeypatch):
    """Make named backends fail to load, as a missing extension / numba would."""

    def breaker(*names):
        for name in names:
            monkeypatch.delitem(_backend._loaded, name, raising=False)
            monkeypatch.setitem(_backend._failed, name, f"seqcore backend {name!r} is unavailable: test says so")

    return breaker


def test_named_unavailable_backend_is_an_error(broken):
    broken("cpp")
    with pytest.raises(ImportError, match="'cpp' is unavailable: test says so"):
        set_backend("cpp")
    with pytest.raises(ImportError, match="test says so"):
        with use_backend("cpp"):
            pass  # pragma: no cover
    assert not _backend.available("cpp")
    assert "test says so" in _backend.unavailable_reason("cpp")


def test_default_falls_back_with_one_warning(broken):
    broken("cpp", "numba")
    with pytest.warns(RuntimeWarning, match="(?s)'cpp' is unavailable.*'numba' is unavailable.*'reference'"):
        assert get_backend() == "reference"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_backend() == "reference"  # warned once only


def test_default_prefers_numba_over_reference(broken):
    if not _backend.available("numba"):
        pytest.skip("numba backend unavailable")
    broken("cpp")
    with pytest.warns(RuntimeWarning, match="'cpp' is unavailable"):
        assert get_backend() == "numba"


def test_incomplete_backend_package_is_unavailable(broken, monkeypatch):
    """A backend directory without its module (an empty namespace package) is unavailable, not a crash."""
    import importlib
    import types

    real = importlib.import_module

    def fake(name, *args):
        if name in ("seqcore.backends.cpp", "seqcore.backends.numba"):
            return types.ModuleType(name)  # what importing an empty directory gives
        return real(name, *args)

    for name in ("cpp", "numba"):
        monkeypatch.delitem(_backend._loaded, name, raising=False)
        monkeypatch.delitem(_backend._failed, name, raising=False)
    monkeypatch.setattr(_backend.importlib, "import_module", fake)
    assert not _backend.available("cpp")
    with pytest.warns(RuntimeWarning):
        assert get_backend() == "reference"


def test_default_is_cpp_when_it_loads(fresh_selection):
    require_backend("cpp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_backend() == "cpp"


def test_env_var(broken, monkeypatch):
    monkeypatch.setenv("SEQCORE_BACKEND", "reference")
    assert get_backend() == "reference"
    monkeypatch.setenv("SEQCORE_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="'nonsense'"):
        get_backend()
    broken("cpp")
    monkeypatch.setenv("SEQCORE_BACKEND", "cpp")
    with pytest.raises(ImportError, match="test says so"):  # asked for by name: no fallback
        get_backend()
    set_backend("reference")  # set_backend beats the environment
    assert get_backend() == "reference"


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "SEQCORE_BACKEND"}
    full_env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), full_env.get("PYTHONPATH", "")])
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code], env=full_env, capture_output=True, text=True, timeout=120
    )


PROBE = "import numpy as np, seqcore; seqcore.kernels.softmax(np.zeros(3)); print(seqcore.get_backend())"


@pytest.mark.parametrize("name", seqcore.BACKENDS)
def test_env_var_in_subprocess(name):
    require_backend(name)
    result = _run(PROBE, SEQCORE_BACKEND=name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == name


def test_env_var_invalid_in_subprocess():
    result = _run(PROBE, SEQCORE_BACKEND="fortran")
    assert result.returncode != 0
    assert "ValueError" in result.stderr and "'fortran'" in result.stderr


def test_default_in_subprocess():
    """With nothing chosen the best loadable backend runs, warning about the ones skipped."""
    result = _run(PROBE)
    assert result.returncode == 0, result.stderr
    expected = next(n for n in seqcore.BACKENDS if _backend.available(n) and getattr(_backend.load(n), "NAME", 0) == n)
    assert result.stdout.strip() == expected
    assert ("RuntimeWarning" in result.stderr) == (expected != "cpp"), result.stderr


# ---------------------------------------------------------------- threads


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects(bad):
    with pytest.raises(ValueError, match="positive int"):
        seqcore.set_num_threads(bad)


def test_reference_reports_one_thread(fresh_selection):
    with use_backend("reference"):
        assert seqcore.get_num_threads() == 1


@pytest.mark.parametrize("fast", FAST_BACKENDS)
def test_num_threads_round_trip(fresh_selection, fast):
    require_backend(fast)
    with use_backend(fast):
        before = seqcore.get_num_threads()
        try:
            seqcore.set_num_threads(1)
            assert seqcore.get_num_threads() == 1
            seqcore.set_num_threads(10_000)  # capped at the machine's cores
            assert seqcore.get_num_threads() == (os.cpu_count() or 1)
        finally:
            seqcore.set_num_threads(before)
        assert seqcore.get_num_threads() == before
