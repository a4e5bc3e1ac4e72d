"""pytest setup: import path, Hypothesis profiles, shared fixtures.

Hypothesis profiles (pick one with HYPOTHESIS_PROFILE=name, default "ci"):
    ci        30 derandomized examples a property, no deadline: fast and repeatable
    dev       100 random examples, shrinking shown with the reproduce blob
    thorough  1000 random examples, for a night run
    sanitize  1000 random examples, no deadline, no example database: the fuzz suite (tests/fuzz)
              under the sanitizer build, where every entry point must see at least 1000 examples
SEQCORE_ALLOW_MISSING_BACKENDS=1 turns "backend cannot be loaded" from a failure into a skip.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("seqcore") is None:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "python"))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
_NO_EXPLAIN = tuple(p for p in Phase if p != Phase.explain)  # explain re-runs failures many times; ci wants speed
settings.register_profile("ci", max_examples=30, derandomize=True, database=None, phases=_NO_EXPLAIN, **_COMMON)
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.register_profile("sanitize", max_examples=1000, derandomize=False, database=None, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """A test parametrized by backend fails (not errors) when that backend cannot load."""
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("backend") if callspec else None
    if isinstance(name, str):
        from helpers import require_backend

        require_backend(name)


@pytest.fixture
def fresh_selection(monkeypatch):
    """Isolate a test from the process-wide backend choice (set_backend, SEQCORE_BACKEND, the fallback warning)."""
    from seqcore import _backend

    monkeypatch.delenv("SEQCORE_BACKEND", raising=False)
    monkeypatch.setattr(_backend, "_chosen", None)
    monkeypatch.setattr(_backend, "_warned", False)
    return _backend
