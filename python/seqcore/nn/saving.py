"""Saving and loading: architecture as JSON, weights as safetensors, in one file written atomically.

``model.save(path)`` writes a safetensors file whose header metadata holds the model's
JSON config (and its compile settings); the tensors are the weights, keyed by variable
name ("lstm/kernel"), plus the optimizer's slots under "optimizer/...".  Any safetensors
reader can open it; ``json.loads(safe_open(path, "np").metadata()["seqcore.config"])``
shows the architecture.

Crash safety: files are written through ``seqcore._atomic`` (temporary file in the same
folder, fsync, rename, fsync of the folder), so a crash or kill mid-save leaves the old file.

Integrity: safetensors has no checksum, so the metadata key ``seqcore.checksum`` holds a
CRC-32 of every tensor's bytes and one of the header (metadata, tensor names, dtypes and
shapes), and every load verifies them: a truncated or damaged file raises
``seqcore.CorruptFileError`` (a ``ValueError``) naming the file and the damage, never
loads garbage.  Format version 2 files must carry the checksum (so damage to its key is
caught too); version 1 files (older seqcore) and safetensors files from other tools have
none, and load unverified beyond safetensors' own structure checks.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from typing import Any

import numpy as np

from .._atomic import CorruptFileError, atomic_write_bytes

FORMAT = "seqcore.model"
VERSION = "2"  # 2: version 1 plus the mandatory "seqcore.checksum"
READABLE_VERSIONS = ("1", "2")
CHECKSUM_KEY = "seqcore.checksum"
_CHECKSUM_ALGORITHM = "crc32"  # zlib's CRC-32: ~3.5 GB/s, catches every burst error up to 32 bits


# ---------------------------------------------------------------- files


def _crc(data: Any) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def _header_digest(tensors: dict[str, np.ndarray], crcs: dict[str, str], metadata: dict[str, str]) -> str:
    """CRC-32 of everything in the header that matters: the metadata and each tensor's name, dtype and shape."""
    described = {
        "metadata": {k: v for k, v in metadata.items() if k != CHECKSUM_KEY},
        "tensors": {k: [v.dtype.name, list(v.shape), crcs[k]] for k, v in tensors.items()},
    }
    return _crc(json.dumps(described, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def _little_endian(value: Any) -> np.ndarray:
    arr = np.ascontiguousarray(value)
    if arr.dtype.byteorder == ">":  # safetensors stores little-endian bytes; checksum those
        arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<")))
    return arr


def _write(path: Any, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write a checksummed safetensors file atomically (see the module docstring)."""
    # bytes, not safetensors' save_file: that one writes its own unsynced, private (0600) temporary file
    from safetensors.numpy import save  # noqa: PLC0415  (optional until saving)

    arrays = {k: _little_endian(v) for k, v in tensors.items()}
    crcs = {k: _crc(v) for k, v in arrays.items()}
    metadata = {k: v for k, v in metadata.items() if k != CHECKSUM_KEY}
    metadata[CHECKSUM_KEY] = json.dumps(
        {"algorithm": _CHECKSUM_ALGORITHM, "header": _header_digest(arrays, crcs, metadata), "tensors": crcs},
        sort_keys=True,
    )
    atomic_write_bytes(path, save(arrays, metadata=metadata))


def _read(path: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and header metadata of a safetensors file, verified against its checksum if it has one.

    Raises FileNotFoundError / IsADirectoryError naming ``path`` when there is no file, and
    CorruptFileError (a ValueError) naming it and the damage when its contents are broken.
    """
    from safetensors.numpy import load  # noqa: PLC0415

    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file {name!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: {name!r} is a folder, not a saved model or weights file") from None
    if len(data) < 8:
        raise CorruptFileError(f"load: {name!r} is not a seqcore/safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        if n > len(data) - 8:
            raise ValueError(f"the header claims {n} bytes but the file has only {len(data)}: truncated?")
        header = json.loads(data[8 : 8 + n])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("the header's __metadata__ is not a table of strings")
        tensors = load(data)
    except Exception as exc:  # safetensors raises its own error type
        raise CorruptFileError(f"load: {name!r} is corrupted or not a safetensors file ({exc})") from None
    _verify(name, tensors, metadata)
    return tensors, metadata


def _verify(name: str, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Check the tensors and header against ``seqcore.checksum``; CorruptFileError naming the damage."""

    def damaged(what: str) -> CorruptFileError:
        return CorruptFileError(f"load: {name!r} is corrupted: {what}; the file was damaged after it was written")

    record_text = metadata.get(CHECKSUM_KEY)
    if record_text is None:
        if metadata.get("format", "").startswith(FORMAT) and metadata.get("version") not in (None, "1"):
            raise damaged(
                f"its checksum ({CHECKSUM_KEY!r}), which format version {metadata['version']} requires, is missing"
            )
        return  # older seqcore or another tool: nothing to verify against
    try:
        record = json.loads(record_text)
        algorithm, expected, header = record["algorithm"], record["tensors"], record["header"]
        if not isinstance(expected, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise damaged("its checksum record is unreadable") from None
    if algorithm != _CHECKSUM_ALGORITHM:
        raise CorruptFileError(
            f"load: {name!r} has a {algorithm!r} checksum, which this seqcore cannot verify (it knows only "
            f"{_CHECKSUM_ALGORITHM!r}): the file is damaged or from a newer seqcore"
        )
    crcs = {}
    for key, arr in tensors.items():
        crcs[key] = _crc(np.ascontiguousarray(arr))
        if key not in expected:
            raise damaged(f"tensor {key!r} is not in its checksum record (a damaged tensor name?)")
        if crcs[key] != expected[key]:
            raise damaged(f"the data of tensor {key!r} does not match its checksum")
    absent = [key for key in expected if key not in tensors]
    if absent:
        raise damaged(f"tensor(s) {', '.join(map(repr, absent))} listed in its checksum record are missing")
    if _header_digest(tensors, crcs, metadata) != header:
        raise damaged("its header (metadata, architecture, tensor names, dtypes or shapes) does not match its checksum")


def _json_entry(path: Any, metadata: dict[str, str], key: str) -> Any:
    """A JSON metadata entry; unverified (version 1) files may hold a damaged one."""
    try:
        return json.loads(metadata[key])
    except ValueError as exc:
        raise CorruptFileError(
            f"load: {os.fspath(path)!r} is corrupted: its {key!r} entry is not JSON ({exc})"
        ) from None


def _order(metadata: dict[str, str]) -> list[str] | None:
    """The weights' names in model order (safetensors itself stores tensors sorted by name)."""
    try:
        order = json.loads(metadata.get("seqcore.weights", "null"))
    except ValueError:
        return None
    return order if isinstance(order, list) else None


# ---------------------------------------------------------------- functional config


def functional_config(model: Any) -> dict[str, Any]:
    """The graph of a functional model: layer configs and, in order, every call with its inputs."""
    from .layer import InputLayer, KerasTensor, map_structure  # noqa: PLC0415
    from .serialization import serialize_layer  # noqa: PLC0415

    calls: dict[int, tuple[str, int]] = {}
    per_layer: dict[str, int] = {}
    nodes = []
    for node in model._graph_nodes:
        index = per_layer.get(node.layer.name, 0)
        per_layer[node.layer.name] = index + 1
        calls[id(node)] = (node.layer.name, index)

        def ref(obj: Any, node: Any = node) -> Any:
            if isinstance(obj, KerasTensor):
                name, idx = calls[id(obj.node)]
                return {"__tensor__": [name, idx, obj.index]}
            if isinstance(obj, np.ndarray):
                raise ValueError(
                    f"Model '{model.name}': layer '{node.layer.name}' was called with an array "
                    "argument, which cannot be saved in the config"
                )
            return obj

        if not isinstance(node.layer, InputLayer):
            nodes.append(
                {
                    "layer": node.layer.name,
                    "args": map_structure(ref, list(node.args)),
                    "kwargs": map_structure(ref, node.kwargs),
                }
            )

    def out_ref(t: Any) -> Any:
        name, idx = calls[id(t.node)]
        return [name, idx, t.index]

    return {
        "name": model.name,
        "layers": [serialize_layer(layer) for layer in model.layers],
        "nodes": nodes,
        "inputs": map_structure(out_ref, model._input_struct),
        "outputs": map_structure(out_ref, model._output_struct),
    }


def functional_from_config(cls: type, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
    """Rebuild a functional model by replaying its recorded calls on new layers."""
    from .layer import InputLayer  # noqa: PLC0415
    from .serialization import deserialize_layer  # noqa: PLC0415

    layers = {spec["config"]["name"]: deserialize_layer(spec, custom_objects) for spec in config["layers"]}
    tensors: dict[tuple[str, int, int], Any] = {}
    counts: dict[str, int] = {}
    for name, layer in layers.items():
        if isinstance(layer, InputLayer):
            tensors[(name, 0, 0)] = layer.output
            counts[name] = 1

    def resolve(obj: Any) -> Any:
        if isinstance(obj, dict):
            if "__tensor__" in obj:
                return tensors[tuple(obj["__tensor__"])]
            return {k: resolve(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [resolve(v) for v in obj]
        return obj

    for node in config["nodes"]:
        layer = layers[node["layer"]]
        args = resolve(node["args"])
        kwargs = resolve(node["kwargs"])
        out = layer(*args, **kwargs)
        idx = counts.get(layer.name, 0)
        counts[layer.name] = idx + 1
        for i, t in enumerate(out if isinstance(out, list) else [out]):
            tensors[(layer.name, idx, i)] = t

    def lookup(ref: Any) -> Any:
        return tensors[tuple(ref)]

    def is_ref(x: Any) -> bool:
        return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)

    inputs = lookup(config["inputs"]) if is_ref(config["inputs"]) else [lookup(r) for r in config["inputs"]]
    outputs = lookup(config["outputs"]) if is_ref(config["outputs"]) else [lookup(r) for r in config["outputs"]]
    return cls(inputs, outputs, name=config.get("name"))


# ---------------------------------------------------------------- mixin


class SavingMixin:
    """save / save_weights / load_weights / get_config / to_json (mixed into Model)."""

    def get_config(self) -> dict[str, Any]:
        if getattr(self, "_graph_nodes", None) is None:
            raise NotImplementedError(
                f"Model '{self.name}' is a subclassed model: its architecture is Python code and cannot be "  # type: ignore[attr-defined]
                "serialized; use save_weights/load_weights, or implement get_config/from_config"
            )
        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
        return functional_from_config(cls, config, custom_objects)

    def to_json(self) -> str:
        from .serialization import serialize_layer  # noqa: PLC0415

        return json.dumps(serialize_layer(self))  # type: ignore[arg-type]

    def _weight_dict(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for v in self.weights:  # type: ignore[attr-defined]
            if v.name in out:
                raise ValueError(f"save: two weights are named {v.name!r}; give the layers unique names")
            out[v.name] = v.data
        return out

    def save_weights(self, path: Any) -> None:
        """Write the weights alone to a safetensors file (atomically)."""
        weights = self._weight_dict()
        _write(
            path,
            weights,
            {"format": FORMAT + ".weights", "version": VERSION, "seqcore.weights": json.dumps(list(weights))},
        )

    def load_weights(self, path: Any, skip_mismatch: bool = False) -> None:
        """Load weights saved by ``save_weights`` or ``save``, matched by name and checked by shape."""
        tensors, metadata = _read(path)
        self._assign(tensors, os.fspath(path), skip_mismatch, _order(metadata))

    def _assign(
        self, tensors: dict[str, np.ndarray], path: str, skip_mismatch: bool = False, order: list[str] | None = None
    ) -> None:
        variables = self.weights  # type: ignore[attr-defined]
        missing = [v.name for v in variables if v.name not in tensors]
        if missing and order and len(order) == len(variables):
            # the same architecture built separately has other automatic layer names ("lstm_3"):
            # match by position, as Keras does, when names differ but every shape lines up
            if all(k in tensors and tensors[k].shape == v.shape for k, v in zip(order, variables)):
                tensors = {v.name: tensors[k] for k, v in zip(order, variables)}
                missing = []
        if missing and not skip_mismatch:
            raise ValueError(
                f"load: {path!r} has no values for {', '.join(missing)} (the file holds "
                f"{', '.join(k for k in tensors if not k.startswith('optimizer/')) or 'nothing'})"
            )
        checked = []
        for v in variables:
            if v.name not in tensors:
                continue
            arr = tensors[v.name]
            if arr.shape != v.shape:
                if skip_mismatch:
                    continue
                layer = v.name.rsplit("/", 1)[0]
                raise ValueError(
                    f"load: layer '{layer}' weight '{v.name}' expects shape {v.shape}, but {path!r} "
                    f"has shape {arr.shape}"
                )
            checked.append((v, arr))
        for v, arr in checked:
            v.data[...] = arr

    def save(self, path: Any, include_optimizer: bool = True) -> None:
        """Write architecture (JSON) + weights (+ optimizer state) to one safetensors file, atomically."""
        config = json.dumps({"class_name": type(self).__name__, "config": self.get_config()})
        tensors = dict(self._weight_dict())
        metadata = {
            "format": FORMAT,
            "version": VERSION,
            "seqcore.config": config,
            "seqcore.weights": json.dumps(list(tensors)),
        }
        compile_config = getattr(self, "_compile_config", None)
        if compile_config is not None:
            metadata["seqcore.compile"] = json.dumps(compile_config)
            if include_optimizer:
                state = self.optimizer.get_state()  # type: ignore[attr-defined]
                for key, value in state.items():
                    tensors[f"optimizer/{key}"] = np.asarray(value)
        _write(path, tensors, metadata)


def load_model(path: Any, custom_objects: dict[str, Any] | None = None, compile: bool = True) -> Any:
    """Rebuild a model written by ``Model.save``: architecture, weights, and (if saved) its compile state."""
    from .. import losses as losses_mod  # noqa: PLC0415
    from .. import optim
    from .serialization import deserialize_layer  # noqa: PLC0415

    tensors, metadata = _read(path)
    if metadata.get("format") != FORMAT or "seqcore.config" not in metadata:
        raise ValueError(
            f"load_model: {os.fspath(path)!r} holds no model architecture (was it written by "
            "save_weights? use model.load_weights)"
        )
    if metadata.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"load_model: {os.fspath(path)!r} has format version {metadata.get('version')}, this "
            f"seqcore reads version {' or '.join(READABLE_VERSIONS)}"
        )
    config = _json_entry(path, metadata, "seqcore.config")
    model = deserialize_layer(config, custom_objects)
    if not model.built:
        raise ValueError("load_model: the saved model has no input shape, so its weights cannot be created")
    model._assign(tensors, os.fspath(path), order=_order(metadata))
    if compile and "seqcore.compile" in metadata:
        cc = _json_entry(path, metadata, "seqcore.compile")
        losses = [losses_mod.get(spec) for spec in cc["loss"]]
        metrics = cc["metrics"] if any(cc["metrics"]) else None
        names = model._output_names_for_training()
        model.compile(
            optimizer=optim.get(cc["optimizer"]),
            loss=losses if len(names) > 1 else losses[0],
            metrics=metrics if metrics is None or len(names) > 1 else metrics[0],
            loss_weights=cc.get("loss_weights"),
        )
        state = {k[len("optimizer/") :]: v for k, v in tensors.items() if k.startswith("optimizer/")}
        for key in ("iterations", "learning_rate"):  # scalars come back as one-element arrays
            if key in state and state[key].size == 1:
                state[key] = state[key].reshape(())
        if state:
            model.optimizer.set_state(state)
    return model
