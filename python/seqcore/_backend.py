"""Which backend runs the kernels: registry, selection and fallback.

Order of precedence: an enclosing ``use_backend`` block, then ``set_backend``,
then the ``SEQCORE_BACKEND`` environment variable, then the default ``cpp``.
When the default cannot be loaded (the extension was not built, numba is
missing) seqcore warns once and falls back along ``cpp -> numba -> reference``;
a backend asked for by name that cannot be loaded is an error instead.

``cuda`` (NVIDIA GPUs through CuPy, when seqcore was built with it and a device is present)
is never a default or a fallback: it runs a call that holds a CuPy array, whatever the
active backend, and every call once chosen by name (it then copies host arrays to the GPU).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

BACKENDS = ("cpp", "numba", "reference")  # the CPU backends: every kernel, on any machine
DEVICE_BACKENDS = ("cuda",)
_NAMES = BACKENDS + DEVICE_BACKENDS
_FALLBACK = {"cpp": "numba", "numba": "reference"}

_lock = threading.Lock()
_loaded: dict[str, ModuleType] = {}
_failed: dict[str, str] = {}
_chosen: str | None = None  # set_backend's choice
_scoped: contextvars.ContextVar[str | None] = contextvars.ContextVar("seqcore_backend", default=None)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name.lower() not in _NAMES:
        raise ValueError(f"backend must be one of {', '.join(_NAMES)}; got {name!r}")
    return name.lower()


def load(name: str) -> ModuleType:
    """Import a backend module, remembering why it failed if it does."""
    module = _loaded.get(name) if isinstance(name, str) else None
    if module is not None:  # every kernel call asks: answer the common case without the lock
        return module
    name = _check_name(name)
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _failed:
            raise ImportError(_failed[name])
        try:
            module = importlib.import_module(f"seqcore.backends.{name}")
            if getattr(module, "NAME", None) != name:  # e.g. a folder left without its module files
                raise ImportError(f"seqcore.backends.{name} is incomplete (no NAME)")
        except ImportError as exc:  # the extension, numba, CuPy or a GPU is missing
            _failed[name] = f"seqcore backend {name!r} is unavailable: {exc}"
            raise ImportError(_failed[name]) from exc
        _loaded[name] = module
        return module


def available(name: str) -> bool:
    try:
        load(name)
    except ImportError:
        return False
    return True


def unavailable_reason(name: str) -> str | None:
    return None if available(name) else _failed.get(_check_name(name))


_warned = False


def _default() -> ModuleType:
    global _warned
    requested = os.environ.get("SEQCORE_BACKEND")
    if requested:
        return load(_check_name(requested))
    name: str | None = "cpp"
    reasons = []
    while name is not None:
        try:
            module = load(name)
        except ImportError as exc:
            reasons.append(str(exc))
            name = _FALLBACK.get(name)
            continue
        if reasons and not _warned:
            _warned = True
            warnings.warn(f"{'; '.join(reasons)}; using the {name!r} backend", RuntimeWarning, stacklevel=4)
        return module
    raise ImportError("no seqcore backend could be loaded: " + "; ".join(reasons))


def active() -> ModuleType:
    """The backend module the next kernel call will run on."""
    name = _scoped.get() or _chosen
    return load(name) if name else _default()


def cuda_available() -> bool:
    """Whether the cuda backend loads: seqcore._cuda was built, CuPy imports and a CUDA device answers.

    ``seqcore.unavailable_reason("cuda")`` says why not."""
    return available("cuda")


def get_backend() -> str:
    """Name of the backend in use: 'cpp', 'numba', 'reference' or 'cuda'."""
    return active().NAME


def set_backend(name: str) -> None:
    """Run all following kernel calls on backend ``name`` (raises ImportError if it cannot load)."""
    global _chosen
    load(name)
    _chosen = _check_name(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[ModuleType]:
    """``with seqcore.use_backend("numba"):`` runs the block's kernel calls on that backend."""
    module = load(name)
    token = _scoped.set(_check_name(name))
    try:
        yield module
    finally:
        _scoped.reset(token)
