"""Keras HDF5 weight files <-> seqcore models.

Formats read (``read_keras_weights``, ``load_keras_weights``):

- legacy / Keras 2 HDF5: ``model.save_weights("w.h5")`` (Keras 2) or a full-model
  ``model.save("m.h5")`` (Keras 2 or 3, weights under the ``model_weights`` group).  The
  root (or ``model_weights``) lists ``layer_names``; each layer group lists its
  ``weight_names``, the paths of its datasets inside the group.  Attributes may hold
  bytes or str and may be split into ``name0``, ``name1`` ... chunks.
- Keras 3 ``.weights.h5`` (``model.save_weights("w.weights.h5")``) and the weights inside
  a ``.keras`` archive: ``layers/<key>/vars/<i>`` where ``<key>`` is the layer's class in
  snake case made unique with ``_1``, ``_2`` ... in model order (``dense``, ``dense_1``);
  the ``vars`` group's ``name`` attribute holds the layer's name.  Sub-layers nest:
  ``layers/lstm/cell/vars/0``, ``layers/bidirectional/forward_layer/cell/vars/0``.  A
  layer's weights are its own ``vars`` (by index), then its sub-layers' (``forward_layer``
  before ``backward_layer``, the others by name), which is ``layer.get_weights()`` order.

Legacy files list a layer's trainable weights before its non-trainable ones; for the
supported layers (unless partly frozen) that is ``get_weights()`` order, as read here.

``write_keras_weights`` writes the legacy layout, which Keras 3 loads with
``model.load_weights("x.h5")`` (and ``by_name=True``) and Keras 2 with ``load_weights``.

Matching layers (``load_keras_weights``): by default, legacy files pair the layers that
hold weights in order, as Keras does; Keras 3 files pair each layer with the entry at its
class-and-occurrence key (the third Dense is ``dense_2``), as Keras 3 does.  With
``by_name=True`` layers are paired by name and unmatched entries are skipped.

h5py is imported only when a file is read or written.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .._atomic import atomic_path
from ._common import (
    Array,
    ModelOrLayer,
    assign,
    describe,
    flat_layers,
    kind,
    layer_weights,
    shapes,
    snake_case,
    weighted,
)

__all__ = ["keras_weight_names", "load_keras_weights", "read_keras_weights", "write_keras_weights"]

PathLike = Union[str, "os.PathLike[str]"]

_LAYOUT_VERSION = "2.15.0"  # the Keras version whose layout write_keras_weights follows; loaders only test for "1"
_KERAS_ARCHIVE_WEIGHTS = "model.weights.h5"
_CELLS = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}
_LEAVES = {
    "Dense": ("kernel", "bias"),
    "Embedding": ("embeddings",),
    "Conv1D": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNormalization": ("gamma", "beta"),
    **{k: (f"{c}/kernel", f"{c}/recurrent_kernel", f"{c}/bias") for k, c in _CELLS.items()},
}


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading and writing Keras HDF5 weight files needs h5py: pip install h5py") from exc
    return h5py


# ---------------------------------------------------------------- names


def _leaf_names(layer: Any, count: int) -> list[str]:
    """Keras's weight names for ``count`` weights of ``layer``, relative to the layer."""
    ours = kind(layer)
    if ours == "Bidirectional":
        fwd, bwd = layer.forward_layer, layer.backward_layer
        n = len(layer_weights(fwd))
        names = [f"{getattr(fwd, 'name', 'forward')}/{leaf}" for leaf in _leaf_names(fwd, n)]
        names += [f"{getattr(bwd, 'name', 'backward')}/{leaf}" for leaf in _leaf_names(bwd, count - n)]
        return names
    leaves = list(_LEAVES.get(ours, ()))
    if ours in ("BatchNormalization", "LayerNormalization") and count < len(leaves):  # scale=False: no gamma,
        affine = [("gamma", getattr(layer, "scale", True)), ("beta", getattr(layer, "center", True))]  # center: beta
        leaves = [leaf for leaf, on in affine if on] + leaves[2:]
    if len(leaves) < count:
        leaves = [f"weight_{i}" for i in range(count)]
    return leaves[:count]


def keras_weight_names(layer: Any) -> list[str]:
    """The Keras weight names of ``layer``'s weights, e.g. ``['lstm/lstm_cell/kernel', ...]``."""
    return [f"{layer.name}/{leaf}" for leaf in _leaf_names(layer, len(layer_weights(layer)))]


# ---------------------------------------------------------------- reading


@dataclass
class _Entry:
    """One layer of a weight file."""

    name: str  # the layer's name
    key: str  # legacy: the layer group's name; Keras 3: the path under layers/ (e.g. "dense_1")
    weights: list[tuple[str, Array]]
    named: bool = True  # False when the file did not record the layer's name (key used instead)


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _str_list(group: Any, name: str) -> list[str] | None:
    """A list-of-strings attribute, joined from ``name0``, ``name1`` ... chunks when split; None if absent."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    elif f"{name}0" in group.attrs:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    else:
        return None
    out: list[str] = []
    for chunk in chunks:
        values = np.asarray(chunk).reshape(-1)
        if values.dtype.kind in "SUO":  # Keras writes an empty list as an empty float array
            out.extend(_text(v) for v in values)
    return out


def _dataset(h5py: Any, group: Any, path: str, where: str) -> Array:
    obj = group.get(path)
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"{where}: the file lists weight {path!r} but holds no such dataset")
    return np.asarray(obj[()])


def _read_legacy(h5py: Any, root: Any, where: str) -> list[_Entry]:
    names = _str_list(root, "layer_names")
    if names is None:
        raise ValueError(f"{where}: the legacy weights group has no 'layer_names' attribute")
    entries = []
    for name in names:
        group = root.get(name)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{where}: 'layer_names' lists layer {name!r} but the file has no group for it")
        weight_names = _str_list(group, "weight_names")
        if weight_names is None:
            raise ValueError(f"{where}: layer group {name!r} has no 'weight_names' attribute")
        weights = [(wn, _dataset(h5py, group, wn, f"{where}: layer {name!r}")) for wn in weight_names]
        entries.append(_Entry(name, name, weights))
    return entries


def _index_key(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)


def _child_key(name: str) -> tuple[int, str]:
    return ({"forward_layer": 0, "backward_layer": 1}.get(name, 2), name)


def _k3_weights(h5py: Any, group: Any, rel: str, where: str) -> list[tuple[str, Array]]:
    """A Keras 3 layer group's weights: its own vars by index, then its sub-layers'."""
    out = []
    own = group.get("vars")
    if isinstance(own, h5py.Group):
        for i in sorted(own, key=_index_key):
            obj = own[i]
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(f"{where}: {own.name}/{i} is not a dataset")
            out.append((f"{rel}vars/{i}", np.asarray(obj[()])))
    for child in sorted(group, key=_child_key):
        obj = group[child]
        if child == "vars" or not isinstance(obj, h5py.Group) or "seed_generator" in child:
            continue  # seed generator states are RNG state, not weights (get_weights leaves them out)
        out.extend(_k3_weights(h5py, obj, f"{rel}{child}/", where))
    return out


def _read_keras3(h5py: Any, f: Any, where: str, prefix: str = "") -> list[_Entry]:
    layers = f.get("layers")
    if not isinstance(layers, h5py.Group):
        return []
    entries = []
    for key in sorted(layers, key=_child_key):
        group = layers[key]
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{where}: {group.name} is not a group")
        if isinstance(group.get("layers"), h5py.Group):  # a nested model: its layers are entries of their own
            entries.extend(_read_keras3(h5py, group, where, f"{prefix}{key}/"))
            continue
        own = group.get("vars")
        name = own.attrs.get("name") if isinstance(own, h5py.Group) else None
        weights = _k3_weights(h5py, group, "", f"{where}: layer {prefix}{key}")
        label = _text(name) if name is not None else f"{prefix}{key}"
        entries.append(_Entry(label, f"{prefix}{key}", weights, named=name is not None))
    return entries


def _open(h5py: Any, path: PathLike) -> Any:
    where = os.fspath(path)
    if not os.path.exists(where):
        raise FileNotFoundError(f"no such Keras weights file: {where!r}")
    try:
        if zipfile.is_zipfile(where):  # a .keras archive: the weights are model.weights.h5 inside
            with zipfile.ZipFile(where) as archive:
                if _KERAS_ARCHIVE_WEIGHTS not in archive.namelist():
                    raise ValueError(f"{where}: a zip archive without {_KERAS_ARCHIVE_WEIGHTS} is not a .keras file")
                data = archive.read(_KERAS_ARCHIVE_WEIGHTS)
            return h5py.File(io.BytesIO(data), "r")
        return h5py.File(where, "r")
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{where}: not a readable HDF5 weights file ({exc})") from exc


def _read(path: PathLike) -> tuple[str, list[_Entry]]:
    """(format, entries): format is 'legacy' or 'keras3'."""
    h5py = _h5py()
    where = os.fspath(path)
    with _open(h5py, path) as f:
        try:
            if _str_list(f, "layer_names") is not None:
                return "legacy", _read_legacy(h5py, f, where)
            if isinstance(f.get("model_weights"), h5py.Group):
                return "legacy", _read_legacy(h5py, f["model_weights"], where)
            if isinstance(f.get("layers"), h5py.Group) or isinstance(f.get("vars"), h5py.Group):
                return "keras3", _read_keras3(h5py, f, where)
        except (OSError, KeyError, RuntimeError) as exc:  # damaged objects inside a readable file
            raise ValueError(f"{where}: damaged weights file ({exc})") from exc
    raise ValueError(
        f"{where}: not a Keras weights file (no 'layer_names' attribute, 'model_weights' group or 'layers' group)"
    )


def read_keras_weights(path: PathLike) -> dict[str, list[tuple[str, Array]]]:
    """The weights in a Keras HDF5 file: layer name -> [(weight name, array), ...] in the layer's order.

    Reads legacy/Keras 2 ``.h5`` (weights only or full model) and Keras 3 ``.weights.h5``
    or ``.keras`` files (see the module docs).  Layers without weights are listed with an
    empty list.  Keras 3 weight names are the dataset paths inside the layer's group
    (``vars/0``, ``cell/vars/1``, ``forward_layer/cell/vars/0`` ...).  Legacy files keep
    the file's layer order; Keras 3 files record none across classes and come sorted by key.
    Raises FileNotFoundError, or ValueError for a file that is not a readable Keras weights file.
    """
    _, entries = _read(path)
    out: dict[str, list[tuple[str, Array]]] = {}
    for entry in entries:
        out[entry.key if entry.name in out else entry.name] = entry.weights
    return out


# ---------------------------------------------------------------- loading


def _structural_keys(layers: Sequence[Any]) -> list[str]:
    """Keras 3's key for each layer: class name in snake case, ``_1``, ``_2`` ... for later ones of a class."""
    used: dict[str, int] = {}
    keys = []
    for layer in layers:
        base = snake_case(kind(layer))
        if base in used:
            used[base] += 1
            keys.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            keys.append(base)
    return keys


def _check_entry(layer: Any, current: list[Array], entry: _Entry, where: str) -> str | None:
    """Why ``entry`` cannot be loaded into ``layer``, or None."""
    names = keras_weight_names(layer)
    if len(entry.weights) != len(current):
        return (
            f"{where}: layer {describe(layer)} expects {len(current)} weights {names} with shapes "
            f"({shapes(current)}), but file layer {entry.name!r} holds {len(entry.weights)} "
            f"{[n for n, _ in entry.weights]} with shapes ({shapes([a for _, a in entry.weights])})"
        )
    for ours, want, (theirs, arr) in zip(names, current, entry.weights):
        if arr.shape != want.shape:
            hint = ""
            if kind(layer) in ("GRU", "Bidirectional") and ours.endswith("bias") and {arr.ndim, want.ndim} == {1, 2}:
                hint = " (a GRU stores bias (2, 3H) with reset_after=True and (3H,) with reset_after=False)"
            return (
                f"{where}: layer {describe(layer)}, weight {ours!r}: expected shape {want.shape}, found "
                f"{arr.shape} in file weight {theirs!r} of layer {entry.name!r}{hint}"
            )
    return None


def load_keras_weights(model: ModelOrLayer, path: PathLike, by_name: bool = False, skip_mismatch: bool = False) -> None:
    """Load a Keras HDF5 weights file (any format ``read_keras_weights`` reads) into a seqcore model.

    by_name: pair layers by name (file layers with no namesake are skipped) instead of by
        order (legacy files) or by class-and-occurrence key (Keras 3 files).
    skip_mismatch: warn and skip a layer whose weight count or shapes differ (and, when
        pairing by order, tolerate extra or missing layers) instead of raising.

    Mismatches raise ValueError naming the layer, the weight and the expected and found
    shapes.  Every layer is checked before any is changed.  Values are cast to the dtype
    of the weights they replace.
    """
    where = os.fspath(path)
    fmt, entries = _read(path)
    layers = flat_layers(model)
    plan: list[tuple[Any, list[Array], _Entry]] = []
    problems: list[str] = []

    if by_name:
        unnamed = [e.key for e in entries if not e.named and e.weights]
        if unnamed:
            raise ValueError(f"{where}: the file does not record the names of layers {unnamed}; use by_name=False")
        by = {e.name: e for e in entries}
        for layer, current in weighted(layers):
            if layer.name in by:
                plan.append((layer, current, by[layer.name]))
    elif fmt == "legacy":
        ours = weighted(layers)
        theirs = [e for e in entries if e.weights]
        if len(ours) != len(theirs):
            msg = (
                f"{where}: the model has {len(ours)} layers with weights {[describe(l) for l, _ in ours]} but the "
                f"file has {len(theirs)} {[e.name for e in theirs]}; use by_name=True to pair them by name"
            )
            if not skip_mismatch:
                raise ValueError(msg)
            problems.append(msg)
        plan = [(layer, current, entry) for (layer, current), entry in zip(ours, theirs)]
    else:
        nested = [e.key for e in entries if "/" in e.key and e.weights]
        if nested:
            raise ValueError(f"{where}: the file holds nested models {nested}; use by_name=True")
        by = {e.key: e for e in entries}
        ours = [(layer, key) for layer, key in zip(layers, _structural_keys(layers))]
        matched = set()
        for layer, key in ours:
            current = layer_weights(layer)
            if not current:
                continue
            if key not in by:
                problems.append(f"{where}: layer {describe(layer)} has no entry 'layers/{key}' in the file")
                continue
            matched.add(key)
            plan.append((layer, current, by[key]))
        extra = [e.key for e in entries if e.weights and e.key not in matched]
        if extra:
            problems.append(f"{where}: file layers {extra} match no layer of the model; use by_name=True")
        if problems and not skip_mismatch:
            raise ValueError("; ".join(problems))

    checked = []
    for layer, current, entry in plan:
        problem = _check_entry(layer, current, entry, where)
        if problem is None:
            checked.append((layer, current, entry))
        elif skip_mismatch:
            problems.append(problem)
        else:
            raise ValueError(problem)
    for problem in problems:
        warnings.warn(f"skipped: {problem}", stacklevel=2)
    for layer, current, entry in checked:
        assign(layer, [a for _, a in entry.weights], current)


# ---------------------------------------------------------------- writing


def _bytes_list(values: Sequence[str]) -> Array:
    return np.asarray([v.encode("utf8") for v in values])  # an empty list stays a float array, as Keras writes it


def write_keras_weights(path: PathLike, model: ModelOrLayer) -> None:
    """Write the weights of a seqcore model (or layer) as a legacy / Keras 2 HDF5 weights file.

    Layout: root attributes ``layer_names``, ``backend``, ``keras_version``; one group per
    layer with a ``weight_names`` attribute and one dataset per weight (Keras names such as
    ``lstm/lstm_cell/kernel``).  Keras 3 loads it with ``model.load_weights(path)`` when
    ``path`` ends in ``.h5`` (``by_name=True`` works too), as does ``load_keras_weights``.

    The file is written through ``seqcore._atomic.atomic_path`` (temporary file in the same
    folder, fsync, rename), so readers never see a partial file and a failed or killed
    write leaves the old one.
    """
    h5py = _h5py()
    layers = flat_layers(model)
    seen: dict[str, Any] = {}
    for layer in layers:
        if layer.name in seen:
            raise ValueError(f"layer names must be unique to write a Keras weights file: {layer.name!r} repeats")
        seen[layer.name] = layer
    contents = [(layer, keras_weight_names(layer), layer_weights(layer)) for layer in layers]

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["layer_names"] = _bytes_list([layer.name for layer in layers])
        f.attrs["backend"] = b"seqcore"
        f.attrs["keras_version"] = _LAYOUT_VERSION.encode("utf8")
        for layer, names, arrays in sorted(contents, key=lambda c: c[0].name):  # as Keras: no prefix clashes
            group = f.create_group(layer.name)
            group.attrs["weight_names"] = _bytes_list(names)
            for name, arr in zip(names, arrays):
                group.create_dataset(name, data=arr)
        f.create_group("top_level_model_weights").attrs["weight_names"] = _bytes_list([])
