"""Saving and loading: architecture as JSON, weights as safetensors, in one file written atomically.

``model.save(path)`` writes a safetensors file whose header metadata holds the model's
JSON config (and its compile settings); the tensors are the weights, keyed by variable
name ("lstm/kernel"), plus the optimizer's slots under "optimizer/...".  Any safetensors
reader can open it; ``json.loads(safe_open(path, "np").metadata()["seqcore.config"])``
shows the architecture.  Files are written to a temporary name in the same folder,
fsynced, then renamed over the target, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from typing import Any

import numpy as np

FORMAT = "seqcore.model"
VERSION = "1"


# ---------------------------------------------------------------- files


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, and rename."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"save: {path!r} is a folder; give a file name, e.g. {os.path.join(path, 'model.safetensors')!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write(path: Any, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    from safetensors.numpy import save  # noqa: PLC0415  (optional until saving)

    atomic_write(path, save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata))


def _read(path: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and header metadata of a safetensors file, with clear errors for damaged files."""
    from safetensors.numpy import load  # noqa: PLC0415

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file {path!r}") from None
    if len(data) < 8:
        raise ValueError(f"load: {path!r} is not a seqcore/safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        if n > len(data) - 8:
            raise ValueError("header longer than the file")
        header = json.loads(data[8 : 8 + n])
        tensors = load(data)
    except Exception as exc:  # safetensors raises its own error type
        raise ValueError(f"load: {path!r} is corrupted or not a safetensors file ({exc})") from None
    return tensors, dict(header.get("__metadata__") or {})


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
    if metadata.get("version") != VERSION:
        raise ValueError(
            f"load_model: {os.fspath(path)!r} has format version {metadata.get('version')}, this "
            f"seqcore reads version {VERSION}"
        )
    model = deserialize_layer(json.loads(metadata["seqcore.config"]), custom_objects)
    if not model.built:
        raise ValueError("load_model: the saved model has no input shape, so its weights cannot be created")
    model._assign(tensors, os.fspath(path), order=_order(metadata))
    if compile and "seqcore.compile" in metadata:
        cc = json.loads(metadata["seqcore.compile"])
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
