"""Crash-safe saves and damaged files (issue 4).

- A child process saving a model over and over is killed with SIGKILL at random moments
  (during serialization, write, fsync, rename); every time, the file on disk must load and
  hold exactly one of the versions saved, never a mix.
- Truncated or bit-flipped files (header, JSON config, tensor data), empty and foreign files
  raise ``seqcore.CorruptFileError`` naming the file, never load garbage.
- A save that fails (exception mid-write, fsync error, Ctrl-C) leaves the old file and no
  temporary file; the helper keeps permissions, follows symlinks and clears stale leftovers.
- Every writer (save, save_weights, Keras .h5 export, benchmark JSON) goes through the helper.
"""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import random
import signal
import stat
import struct
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import seqcore
from seqcore import _atomic, nn
from seqcore._atomic import (
    STALE_TEMP_SECONDS,
    CorruptFileError,
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    is_temp_name,
)
from seqcore.nn import saving

# ---------------------------------------------------------------- the kill test

# Run as text by the child (``exec``) and by this module, so that a child needs nothing beyond
# the modules the fork server preloads; unpickling a function from this file would import
# pytest in every child, which costs more than the save being tested.
_SHARED = """
import numpy as np
from seqcore import nn

def build_model():
    nn.clear_session()
    # 1024 x 1024 float32: a 4 MiB file, so a save spans measurable time; zeros: cheap to build
    return nn.Sequential([nn.Dense(1024, input_shape=(1024,), kernel_initializer="zeros"), nn.Dense(4)])

def version_weights(model, k):
    # every element differs between versions, so a file mixing two versions cannot pass as one
    return [
        ((np.arange(w.size, dtype=np.int32) & 4095).astype(np.float32) + np.float32(0.25 * k)).reshape(w.shape)
        for w in model.get_weights()
    ]
"""

_CHILD = (
    _SHARED
    + """
model = build_model()
k = first
while True:
    model.set_weights(version_weights(model, k))
    conn.send(k)  # "starting to save version k"
    model.save(path)
    k = (k + 1) % n_versions
"""
)

_N_VERSIONS = 3
_KILLS = int(os.environ.get("SEQCORE_CRASH_KILLS", "100"))


def _shared() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(_SHARED, namespace)
    return namespace


def _which_version(path: Path, versions: list[list[np.ndarray]]) -> int:
    loaded = seqcore.load_model(path).get_weights()
    for k, weights in enumerate(versions):
        if all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(loaded, weights)):
            return k
    raise AssertionError(f"{path} loads but holds none of the saved versions")


@pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or "forkserver" not in mp.get_all_start_methods(),
    reason="needs SIGKILL and the forkserver start method (POSIX)",
)
def test_sigkill_at_random_moments_never_damages_the_saved_file(tmp_path: Path, record_property: Any) -> None:
    shared = _shared()
    model = shared["build_model"]()
    versions = [shared["version_weights"](model, k) for k in range(_N_VERSIONS)]
    path = tmp_path / "model.safetensors"
    model.set_weights(versions[0])
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        model.save(path)
        timings.append(time.perf_counter() - start)
    save_s = sorted(timings)[1]

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "seqcore", "safetensors.numpy"])
    rng = random.Random(4)
    size = path.stat().st_size
    # intact/corrupt: the file after each kill; mid_write / before_rename: the kill left a partial / a complete
    # temporary file (killed while writing / while fsyncing or renaming); changed: saves completed in between
    counts = {"kills": 0, "intact": 0, "corrupt": 0, "mid_write": 0, "before_rename": 0, "changed": 0}
    previous = 0
    errors: list[str] = []
    started = time.perf_counter()
    for _ in range(_KILLS):
        reader, writer = ctx.Pipe(duplex=False)
        child_globals = {"path": str(path), "conn": writer, "first": (previous + 1) % _N_VERSIONS}
        child_globals["n_versions"] = _N_VERSIONS
        proc = ctx.Process(target=exec, args=(_CHILD, child_globals), daemon=True)
        proc.start()
        writer.close()
        try:
            assert reader.poll(30), "the saving child did not start"
            reader.recv()
            # from the first save's start to past the second's end: kills land in every phase
            time.sleep(rng.uniform(0.0, 2.5 * save_s))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(30)
        finally:
            if proc.is_alive():
                proc.kill()
                proc.join()
            reader.close()
        assert proc.exitcode == -signal.SIGKILL, f"the child ended by itself (exit code {proc.exitcode})"
        counts["kills"] += 1
        try:
            version = _which_version(path, versions)
        except (CorruptFileError, AssertionError) as exc:
            counts["corrupt"] += 1
            errors.append(str(exc))
            continue
        counts["intact"] += 1
        counts["changed"] += version != previous
        previous = version
        leftovers = [p for p in tmp_path.iterdir() if p != path]
        assert all(is_temp_name(p.name, path) for p in leftovers), leftovers
        for p in leftovers:  # a killed writer's temporary file; drop it to keep the folder small
            counts["before_rename" if p.stat().st_size == size else "mid_write"] += 1
            p.unlink()
    seconds = time.perf_counter() - started
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"\ncrash-safe saves: {summary} in {seconds:.1f} s (one save takes {save_s * 1e3:.1f} ms)")
    for key, value in counts.items():
        record_property(key, value)
    record_property("seconds", round(seconds, 2))
    assert counts["corrupt"] == 0, errors[:3]
    assert counts["intact"] == counts["kills"] == _KILLS
    # the kills did land both mid-save (a temporary file was left) and after completed saves
    assert counts["mid_write"] + counts["before_rename"] > 0 and counts["changed"] > 0, counts


# ---------------------------------------------------------------- damaged files


def _small_model() -> nn.Model:
    seqcore.set_seed(3)
    nn.clear_session()
    inp = nn.Input(shape=(5,), dtype="int64", name="tokens")
    x = nn.Embedding(20, 4)(inp)
    x = nn.LSTM(3)(x)
    out = nn.Dense(2, activation="softmax")(x)
    model = nn.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, 20, size=(8, 5)), rng.integers(0, 2, size=8), epochs=1, batch_size=4, verbose=0)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Model, bytes]:
    model = _small_model()
    path = tmp_path_factory.mktemp("saved") / "m.safetensors"
    model.save(path)
    return model, path.read_bytes()


def _header_size(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


def _assert_corrupt(load: Any, path: Path, what: str = "") -> CorruptFileError:
    with pytest.raises(CorruptFileError) as info:
        load(path)
    assert str(path) in str(info.value), info.value
    assert what in str(info.value), info.value
    assert isinstance(info.value, ValueError)
    return info.value


def test_the_error_is_exported_and_is_a_value_error() -> None:
    assert seqcore.CorruptFileError is CorruptFileError
    assert issubclass(CorruptFileError, ValueError)


def test_saved_files_carry_a_checksum_and_load_back(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    model, data = saved
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    _, metadata = saving._read(path)
    record = json.loads(metadata["seqcore.checksum"])
    assert record["algorithm"] == "crc32"
    assert set(record["tensors"]) >= {w.name for w in model.weights}
    assert metadata["version"] == "2"
    again = seqcore.load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))


def test_truncation_at_any_point_raises_naming_the_file(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    model, data = saved
    header = _header_size(data)
    cuts = set(range(0, len(data), max(1, len(data) // 20)))
    cuts |= {1, 7, 8, 9, header - 1, header, header + 1, header + 4, len(data) - 4, len(data) - 1}
    path = tmp_path / "cut.safetensors"
    for cut in sorted(c for c in cuts if 0 <= c < len(data)):
        path.write_bytes(data[:cut])
        _assert_corrupt(seqcore.load_model, path)
        _assert_corrupt(model.load_weights, path)


def test_every_flipped_header_byte_raises_naming_the_file(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    model, data = saved
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(data)
    with open(path, "r+b") as fh:  # flip in place: rewriting the whole file thousands of times is slow
        for pos in range(_header_size(data)):
            for mask in (0x01,) if pos % 4 else (0x01, 0x80, 0xFF):
                fh.seek(pos)
                fh.write(bytes([data[pos] ^ mask]))
                fh.flush()
                _assert_corrupt(model.load_weights, path)
                fh.seek(pos)
                fh.write(data[pos : pos + 1])
                fh.flush()
    model.load_weights(path)  # restored: the loop really flipped one byte at a time


def test_a_flipped_byte_in_the_json_config_is_caught(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    _, data = saved
    # a digit in the config keeps the JSON valid but would build another model: only the checksum sees it
    start = data.index(b'\\"units\\":') + len(b'\\"units\\":')
    digit = next(i for i in range(start, start + 8) if chr(data[i]).isdigit())
    damaged = bytearray(data)
    damaged[digit] = ord("7") if chr(data[digit]) != "7" else ord("8")
    path = tmp_path / "config.safetensors"
    path.write_bytes(damaged)
    _assert_corrupt(seqcore.load_model, path, "header")


def test_flipped_tensor_data_names_the_tensor(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    model, data = saved
    header = _header_size(data)
    entries = json.loads(data[8:header])
    entries.pop("__metadata__")
    rng = np.random.default_rng(0)
    spots = [(name, header + e["data_offsets"][0]) for name, e in entries.items() if e["data_offsets"][1] > 0]
    spots += [(name, header + e["data_offsets"][1] - 1) for name, e in entries.items() if e["data_offsets"][1] > 0]
    for pos in rng.integers(header, len(data), size=60):
        owner = next(n for n, e in entries.items() if e["data_offsets"][0] <= pos - header < e["data_offsets"][1])
        spots.append((owner, int(pos)))
    path = tmp_path / "data.safetensors"
    for name, pos in spots:
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        path.write_bytes(damaged)
        _assert_corrupt(model.load_weights, path, f"tensor {name!r}")
    _assert_corrupt(seqcore.load_model, path, "tensor")


@pytest.mark.parametrize(
    "contents",
    [
        b"",
        b"abc",
        b"hello, this is a text file and not a model\n",
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        b"PK\x03\x04" + bytes(100),
        json.dumps({"weights": [1, 2, 3]}).encode(),
        struct.pack("<Q", 2) + b"{}",
        struct.pack("<Q", 4) + b"[1] ",
        struct.pack("<Q", 0),
    ],
    ids=["empty", "tiny", "text", "png", "zip", "json", "header-only", "list-header", "zero-header"],
)
def test_empty_and_foreign_files_raise_naming_the_file(tmp_path: Path, contents: bytes) -> None:
    path = tmp_path / "not-a-model.safetensors"
    path.write_bytes(contents)
    if contents == struct.pack("<Q", 2) + b"{}":  # a valid, empty safetensors file: no architecture
        with pytest.raises(ValueError, match="no model architecture"):
            seqcore.load_model(path)
        return
    _assert_corrupt(seqcore.load_model, path)


def test_missing_file_and_folder_raise_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        seqcore.load_model(missing)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        nn.Sequential([nn.Dense(2, input_shape=(3,))]).load_weights(missing)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        seqcore.load_model(tmp_path)


def _rewrite(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None) -> None:
    from safetensors.numpy import save

    path.write_bytes(save(tensors, metadata=metadata))


def test_files_without_a_checksum_still_load(saved: tuple[nn.Model, bytes], tmp_path: Path) -> None:
    model, data = saved
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    tensors, metadata = saving._read(path)
    tensors = {k: np.array(v) for k, v in tensors.items()}
    old = {k: v for k, v in metadata.items() if k != "seqcore.checksum"}
    # written by seqcore before checksums (format version 1): loads, unverified
    _rewrite(path, tensors, {**old, "version": "1"})
    again = seqcore.load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))
    # another tool's plain safetensors file: load_weights matches by name
    _rewrite(path, {w.name: w.data for w in model.weights}, None)
    model.load_weights(path)
    # a version 2 file whose checksum key is gone was damaged: refuse it
    _rewrite(path, tensors, old)
    _assert_corrupt(seqcore.load_model, path, "checksum")


# ---------------------------------------------------------------- failed saves


def _two_versions(tmp_path: Path) -> tuple[nn.Model, Path, bytes]:
    nn.clear_session()
    model = nn.Sequential([nn.Dense(64, input_shape=(32,)), nn.Dense(2)])
    path = tmp_path / "m.safetensors"
    model.save(path)
    model.set_weights([w + 1 for w in model.get_weights()])
    return model, path, path.read_bytes()


def _only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_an_error_mid_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    model, path, before = _two_versions(tmp_path)

    def half_then_fail(target: Any, data: bytes) -> None:
        with atomic_open(target) as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            raise error

    monkeypatch.setattr(saving, "atomic_write_bytes", half_then_fail)
    with pytest.raises(type(error)):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    _only(tmp_path, path.name)
    seqcore.load_model(path)


def test_a_failing_fsync_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, path, before = _two_versions(tmp_path)

    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output"):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    _only(tmp_path, path.name)


def _skip_unless_permissions_hold(folder: Path) -> None:
    probe = folder / "probe"
    probe.write_bytes(b"")
    probe.chmod(0o444)
    try:
        with open(probe, "wb"):
            pass
    except PermissionError:
        return
    finally:
        probe.unlink()
    pytest.skip("this user may write read-only files (root)")


def test_a_read_only_folder_keeps_the_old_file(tmp_path: Path) -> None:
    _skip_unless_permissions_hold(tmp_path)
    model, path, before = _two_versions(tmp_path)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            model.save(path)
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == before
    _only(tmp_path, path.name)


def test_a_folder_refusing_new_files_names_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, path, before = _two_versions(tmp_path)
    real_open = os.open

    def refuse(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:  # what a read-only folder does (simulated: root ignores permissions)
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError, match="Permission denied") as info:
        model.save(path)
    monkeypatch.undo()
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    _only(tmp_path, path.name)


# ---------------------------------------------------------------- the helper itself


def _umask_mode(folder: Path) -> int:
    reference = folder / "reference"
    reference.write_bytes(b"")
    mode = stat.S_IMODE(reference.stat().st_mode)
    reference.unlink()
    return mode


def test_new_files_get_ordinary_permissions_and_replaced_ones_keep_theirs(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"one")
    assert stat.S_IMODE(path.stat().st_mode) == _umask_mode(tmp_path)
    path.chmod(0o640)
    atomic_write_bytes(str(path), b"two")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes() == b"two"
    # a library that replaces the temporary file by a private one of its own (as safetensors' save_file does)
    other = tmp_path / "g.bin"
    with atomic_path(other) as tmp:
        os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"data")
        os.close(fd)
    assert stat.S_IMODE(other.stat().st_mode) == _umask_mode(tmp_path)
    assert other.read_bytes() == b"data"


def test_text_mode_writes_utf8_and_bad_modes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    atomic_write_text(path, "größe ✓\n")
    assert path.read_bytes() == "größe ✓\n".encode()
    with atomic_open(path, "w") as fh:
        json.dump({"a": 1}, fh)
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 1}
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(path, "a"):
            pass
    _only(tmp_path, "t.json")


def test_unusable_targets_raise_naming_the_path(tmp_path: Path) -> None:
    nowhere = tmp_path / "no" / "such" / "folder" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        atomic_write_bytes(nowhere, b"x")
    assert str(nowhere) in str(info.value)
    with pytest.raises(FileNotFoundError, match="m.safetensors"):
        nn.Sequential([nn.Dense(2, input_shape=(3,))]).save(nowhere)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        atomic_write_bytes(tmp_path, b"x")
    with pytest.raises(TypeError, match="file path"):
        atomic_write_bytes(3, b"x")  # type: ignore[arg-type]
    _only(tmp_path)


def test_a_read_only_target_is_refused(tmp_path: Path) -> None:
    _skip_unless_permissions_hold(tmp_path)
    path = tmp_path / "keep.bin"
    path.write_bytes(b"precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        atomic_write_bytes(path, b"x")
    assert path.read_bytes() == b"precious"


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="needs symlinks")
def test_symlinks_are_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "m.bin"
    real.write_bytes(b"old")
    link = tmp_path / "latest.bin"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_long_names_fit_the_file_name_limit(tmp_path: Path) -> None:
    path = tmp_path / ("w" * 240 + ".safetensors")
    atomic_write_bytes(path, b"x")
    assert path.read_bytes() == b"x"


def test_stale_temporaries_of_the_same_target_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    old = time.time() - 2 * STALE_TEMP_SECONDS
    names = {
        "stale": ".m.safetensors.tmp-0123456789ab",
        "fresh": ".m.safetensors.tmp-ba9876543210",
        "not-ours": ".m.safetensors.tmp-notours",
        "other-target": ".n.safetensors.tmp-0123456789ab",
    }
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"partial")
        if key != "fresh":
            os.utime(tmp_path / name, (old, old))
    assert is_temp_name(names["stale"], path) and not is_temp_name(names["not-ours"], path)
    atomic_write_bytes(path, b"x")
    _only(tmp_path, "m.safetensors", names["fresh"], names["not-ours"], names["other-target"])


# ---------------------------------------------------------------- every writer goes through the helper


@pytest.fixture
def replaced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The (source, target) of every os.replace, which only the helper calls."""
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: Any, dst: Any, **kwargs: Any) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    return calls


def _assert_through_helper(calls: list[tuple[str, str]], path: Path) -> None:
    assert len(calls) == 1
    src, dst = calls.pop()
    assert dst == os.path.realpath(path) and is_temp_name(os.path.basename(src), path)
    assert os.path.dirname(src) == os.path.dirname(dst)


def test_model_saves_go_through_the_helper(tmp_path: Path, replaced: list[tuple[str, str]]) -> None:
    model = nn.Sequential([nn.Dense(2, input_shape=(3,))])
    model.save(tmp_path / "m.safetensors")
    _assert_through_helper(replaced, tmp_path / "m.safetensors")
    model.save_weights(tmp_path / "w.safetensors")
    _assert_through_helper(replaced, tmp_path / "w.safetensors")


def test_benchmark_json_goes_through_the_helper(tmp_path: Path, replaced: list[tuple[str, str]]) -> None:
    from seqcore import bench

    path = tmp_path / "results.json"
    bench.save_json([{"case": "a", "ms": np.float32(1.5)}], path, {"host": "x"})
    _assert_through_helper(replaced, path)
    assert json.loads(path.read_text(encoding="utf-8"))["rows"] == [{"case": "a", "ms": 1.5}]


def test_keras_h5_export_goes_through_the_helper(tmp_path: Path, replaced: list[tuple[str, str]]) -> None:
    pytest.importorskip("h5py")
    from seqcore.interop import read_keras_weights, write_keras_weights

    nn.clear_session()
    model = nn.Sequential([nn.Dense(3, input_shape=(2,)), nn.Dense(1)])
    path = tmp_path / "w.h5"
    write_keras_weights(path, model)
    _assert_through_helper(replaced, path)
    assert list(read_keras_weights(path)) == [layer.name for layer in model.layers]


def test_helper_module_imports_nothing_from_seqcore() -> None:
    source = Path(_atomic.__file__).read_text(encoding="utf-8")
    assert "from ." not in source and "import seqcore" not in source
