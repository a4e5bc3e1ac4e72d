"""Crash-safe file writes, and the error for damaged files.

Every file seqcore writes (``Model.save``, ``save_weights``, Keras ``.h5`` export, benchmark
JSON and PNG) goes through this module, so a crash, a full disk or a ``SIGKILL`` at any
moment leaves either the complete old file or the complete new one, never a mix:

1. the data goes to a temporary file in the target's own folder (a rename is atomic only
   within one file system), named ``.{name}.tmp-{12 hex digits}`` so it is recognisably
   seqcore's and tied to its target;
2. the temporary file is flushed and ``fsync``-ed, so its bytes are on disk before it gets
   the target's name (otherwise a power cut after the rename can leave an empty file);
3. ``os.replace`` renames it over the target (atomic on POSIX and Windows);
4. the folder is ``fsync``-ed so the rename itself survives a power cut (where the OS allows).

If the writer raises, the temporary file is removed and the target is untouched.  A process
killed between steps 1 and 3 cannot clean up, so its temporary file stays behind; the next
successful write of the same target removes such leftovers once they are older than
``STALE_TEMP_SECONDS`` (young ones may belong to a save still running in another process).

The new file gets the permission bits of the file it replaces, or, for a new file, the
usual ``0o666`` minus the umask, as ``open(path, "w")`` gives.  Symbolic links are followed:
the file a link points to is replaced and the link stays.  A target that exists but is not
writable is refused with ``PermissionError``, as ``open`` would refuse it.

Writers::

    atomic_write_bytes(path, data)
    atomic_write_text(path, text)
    with atomic_open(path, "w") as fh:   # a file object; "w"/"wt" text (UTF-8 by default), "wb" binary
        json.dump(doc, fh)
    with atomic_path(path) as tmp:       # a path, for libraries that open files themselves (h5py, ...)
        h5py.File(tmp, "w").close()

Readers that find a file damaged (truncated, a checksum that does not match) raise
:class:`CorruptFileError`, a ``ValueError`` whose message names the file and what is wrong.

This module is the lowest layer: it imports nothing from seqcore.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from typing import IO, Any, Union

__all__ = [
    "STALE_TEMP_SECONDS",
    "CorruptFileError",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "is_temp_name",
]

PathLike = Union[str, "os.PathLike[str]"]

# a leftover this old cannot belong to a save in progress: writers touch their file all the time
STALE_TEMP_SECONDS = 15 * 60

_TOKEN_HEX = 12
_MAX_STEM_BYTES = 180  # keeps ".{stem}.tmp-{token}" under the usual 255-byte name limit


class CorruptFileError(ValueError):
    """A file is truncated, damaged or not in the expected format; the message names the file."""


def _stem(base: str) -> str:
    """The target's name as used inside its temporary files' names (shortened if very long)."""
    while len(os.fsencode(base)) > _MAX_STEM_BYTES:
        base = base[:-1]
    return base


def _temp_pattern(base: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(_stem(base))}\.tmp-[0-9a-f]{{{_TOKEN_HEX}}}")


def is_temp_name(name: str, target: PathLike) -> bool:
    """Whether the file name ``name`` is one of this module's temporary files for ``target``."""
    return _temp_pattern(os.path.basename(os.fspath(target))).fullmatch(name) is not None


def _resolve(path: PathLike) -> tuple[str, str]:
    """The absolute target (symlinks followed) and its folder, with clear errors for unusable paths."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected a file path (str or os.PathLike), got {type(path).__name__}: {path!r}")
    given = os.fspath(path)
    if not isinstance(given, str):
        given = os.fsdecode(given)
    if not given:
        raise ValueError("expected a file path, got an empty string")
    target = os.path.realpath(given)
    if os.path.isdir(target):
        raise IsADirectoryError(
            f"cannot write {given!r}: it is a folder; give a file name inside it, e.g. {os.path.join(given, 'model')!r}"
        )
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {given!r}: folder {folder!r} does not exist (create it first)")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(f"cannot write {given!r}: the existing file is read-only")
    return target, folder


def _create_temp(target: str) -> tuple[int, str]:
    folder, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{_stem(base)}.tmp-{secrets.token_hex(_TOKEN_HEX // 2)}")
        try:
            # 0o666 minus the umask, as open() gives; mkstemp's 0o600 would make saved models private
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:  # name the file the user asked for, not our temporary one
            raise type(exc)(
                exc.errno, f"cannot write {target!r}: cannot create a file in {folder!r} ({exc.strerror})"
            ) from None
    raise FileExistsError(f"cannot create a temporary file next to {target!r}: every name tried exists")


def _fsync_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except PermissionError:  # the writer made it read-only; fsync through a read-only handle works on POSIX
        fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: str) -> None:
    # makes the rename durable; folders cannot be opened (Windows) or fsynced on every file system
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _install(tmp: str, target: str, folder: str, created_mode: int) -> None:
    """Give ``tmp`` the target's permissions, rename it over the target and make that durable.

    ``created_mode`` is the mode ``tmp`` was created with, for a new target: a library
    handed the path may have replaced the file with one of its own (private) mode.
    """
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = created_mode
    if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
        with contextlib.suppress(OSError):  # best effort: some file systems have no permission bits
            os.chmod(tmp, mode)
    os.replace(tmp, target)
    _fsync_dir(folder)
    _remove_stale_temps(target)


def _remove_stale_temps(target: str) -> None:
    """Delete this target's temporary files left by killed writers, once old enough to be surely dead."""
    folder, base = os.path.split(target)
    pattern = _temp_pattern(base)
    cutoff = time.time() - STALE_TEMP_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """A temporary path next to ``path``; when the block ends without error it replaces ``path``.

    For libraries that open the file themselves (h5py, matplotlib, safetensors' ``save_file``).
    The temporary file exists (empty) when the block starts; the code in the block may write
    or truncate it but must close it before the block ends.  On error it is removed and
    ``path`` keeps its old contents.  See the module docstring for the guarantees.
    """
    target, folder = _resolve(path)
    fd, tmp = _create_temp(target)
    try:
        created_mode = stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        _install(tmp, target, folder, created_mode)
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """A file object writing to a temporary file that replaces ``path`` when the block ends without error.

    ``mode`` is ``"wb"`` (binary, the default), ``"w"`` or ``"wt"`` (text; ``encoding``
    defaults to UTF-8 rather than the locale's, so files read the same everywhere).  On
    error the temporary file is removed and ``path`` keeps its old contents.
    """
    if mode not in ("wb", "w", "wt"):
        raise ValueError(f"atomic_open: mode must be 'wb', 'w' or 'wt', got {mode!r}")
    binary = mode == "wb"
    if binary and encoding is not None:
        raise ValueError("atomic_open: encoding is only for text modes ('w', 'wt')")
    target, folder = _resolve(path)
    fd, tmp = _create_temp(target)
    try:
        fh: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding or "utf-8")
    except BaseException:
        os.close(fd)
        _discard(tmp)
        raise
    try:
        with fh:
            created_mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _install(tmp, target, folder, created_mode)
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_bytes(path: PathLike, data: bytes | bytearray | memoryview) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file, fsync, rename, fsync of the folder)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (see ``atomic_write_bytes``)."""
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)
