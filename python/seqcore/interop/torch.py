"""PyTorch ``state_dict`` <-> seqcore models and layers.

``load_torch_state_dict`` copies a torch ``state_dict`` into a seqcore model (or one
layer); ``torch_state_dict`` writes one that ``torch_module.load_state_dict`` accepts.
Torch is never imported: state_dict values may be torch tensors (read with
``.detach().cpu().numpy()``) or NumPy arrays, and the export is plain NumPy
(``{k: torch.from_numpy(v) for k, v in sd.items()}`` makes it a torch state_dict).

Pairing our layers with torch modules:

- ``mapping={"lstm": "rnn", "dense": "fc"}`` maps our layer names to torch prefixes
  (the attribute path of the torch module, ``""`` for a bare module).  A torch RNN with
  ``num_layers > 1`` holds several of our layers: ``("rnn", k)`` takes its layer ``k``
  (``weight_ih_l{k}`` ...; a Bidirectional also takes ``weight_ih_l{k}_reverse`` ...).
  A bare string means layer 0.  Layers not in the mapping use their own name as prefix.
- Without a mapping, loading pairs our weighted layers, in order, with the torch modules
  in ``state_dict`` order (keys grouped by prefix, a torch RNN split into its layers),
  and checks that each pair is of matching kind; exporting names each layer's keys after
  the layer (or uses bare keys for a single layer).

Layer kinds: LSTM <-> nn.LSTM, GRU (reset_after=True) <-> nn.GRU, SimpleRNN <-> nn.RNN
(tanh), Bidirectional(any of these) <-> bidirectional=True, Dense <-> nn.Linear,
Embedding <-> nn.Embedding, Conv1D <-> nn.Conv1d, LayerNormalization <-> nn.LayerNorm,
BatchNormalization <-> nn.BatchNorm1d.  Layouts and caveats are in ``layouts``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from . import layouts
from ._common import (
    RECURRENT,
    Array,
    ModelOrLayer,
    assign,
    describe,
    flat_layers,
    is_model,
    kind,
    layer_weights,
    shapes,
    to_numpy,
    weighted,
)

__all__ = ["TorchTarget", "load_torch_state_dict", "torch_state_dict"]

TorchTarget = Union[str, tuple[str, int]]
"""Where a layer lives in a torch state_dict: a module prefix, or (prefix, layer index) for a torch RNN."""

_RNN_LEAF = re.compile(r"(?:weight|bias)_(?:ih|hh|hr)_l(\d+)(?:_reverse)?")
_TORCH_RNN = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}
_TORCH_KINDS = {  # our kind -> the torch module kinds it can pair with (see _torch_kind)
    "Dense": ("Linear", "Linear or Embedding"),
    "Embedding": ("Linear or Embedding",),
    "Conv1D": ("Conv1d",),
    "LayerNormalization": ("LayerNorm",),
    "BatchNormalization": ("BatchNorm",),
}
SUPPORTED = (*RECURRENT, "Bidirectional", *_TORCH_KINDS)


@dataclass
class _Module:
    """One torch module in a state_dict, or one layer ``index`` of a torch RNN module."""

    prefix: str
    index: int | None
    leaves: dict[str, str] = field(default_factory=dict)  # leaf name -> full key, in state_dict order

    def label(self) -> str:
        where = f"torch module {self.prefix!r}" if self.prefix else "the top-level torch module"
        return where if self.index is None else f"{where} layer {self.index}"


def _join(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _group(state: Mapping[str, Array]) -> list[_Module]:
    """The torch modules of a state_dict, in order of first appearance."""
    modules: dict[tuple[str, int | None], _Module] = {}
    for key in state:
        prefix, _, leaf = key.rpartition(".")
        m = _RNN_LEAF.fullmatch(leaf)
        index = int(m.group(1)) if m else None
        modules.setdefault((prefix, index), _Module(prefix, index)).leaves[leaf] = key
    return list(modules.values())


def _torch_kind(module: _Module, state: Mapping[str, Array]) -> tuple[str | None, bool]:
    """(what the module looks like, whether it is a bidirectional RNN layer), read off its keys and shapes.

    The kind is None when the keys that would tell are missing (the key checks report that).
    """
    leaves = module.leaves
    if module.index is not None:
        k = module.index
        bidirectional = any(leaf.endswith("_reverse") for leaf in leaves)
        if f"weight_hr_l{k}" in leaves:
            return "LSTM with projections (proj_size > 0), which seqcore does not support", bidirectional
        w_hh = state.get(leaves.get(f"weight_hh_l{k}", ""))
        if w_hh is None or w_hh.ndim != 2 or w_hh.shape[1] == 0:
            return None, bidirectional
        gates = w_hh.shape[0] / w_hh.shape[1]
        return {4: "LSTM", 3: "GRU", 1: "RNN"}.get(gates, f"recurrent module with {gates:g} gates"), bidirectional
    weight = state.get(leaves.get("weight", ""))
    if "running_mean" in leaves or "running_var" in leaves:
        return "BatchNorm", False
    if weight is None:
        return None, False
    if weight.ndim == 3:
        return "Conv1d", False
    if weight.ndim == 2:
        return ("Linear" if "bias" in leaves else "Linear or Embedding"), False
    if weight.ndim == 1:
        return "LayerNorm", False
    return f"module whose weight has shape {weight.shape}", False


def _check_kind(layer: Any, module: _Module, state: Mapping[str, Array], hint: str) -> None:
    """Raise unless ``layer`` and ``module`` are the same kind of layer."""
    found, bidirectional = _torch_kind(module, state)
    if found is None:
        return
    ours = kind(layer)
    if ours == "Bidirectional":
        inner = kind(getattr(layer, "forward_layer", None))
        wanted = f"bidirectional {_TORCH_RNN.get(inner, inner)}"
        ok = bidirectional and _TORCH_RNN.get(inner) == found
    elif ours in RECURRENT:
        wanted = f"unidirectional {_TORCH_RNN[ours]}"
        ok = not bidirectional and _TORCH_RNN[ours] == found
    else:
        wanted = " or ".join(_TORCH_KINDS[ours])
        ok = found in _TORCH_KINDS[ours]
    if not ok:
        what = f"{'bidirectional ' if bidirectional else ''}{found}"
        raise ValueError(
            f"layer {describe(layer)} is paired with {module.label()} (keys {list(module.leaves.values())}), "
            f"which looks like a {what}, not a {wanted}{hint}"
        )


# ---------------------------------------------------------------- one layer, both directions


def _check_supported(layer: Any) -> None:
    ours = kind(layer)
    if ours == "Bidirectional":
        for side in ("forward_layer", "backward_layer"):
            inner = getattr(layer, side, None)
            if kind(inner) not in RECURRENT:
                raise ValueError(
                    f"layer {describe(layer)}: its {side} is {kind(inner)}; a torch bidirectional RNN needs "
                    f"one of {', '.join(RECURRENT)}"
                )
    elif ours not in SUPPORTED:
        raise ValueError(f"layer {describe(layer)} has no torch counterpart; supported kinds: {', '.join(SUPPORTED)}")


def _rnn_export(layer: Any, weights: list[Array], index: int, suffix: str) -> dict[str, Array]:
    ours = kind(layer)
    if ours == "LSTM":
        w_ih, w_hh, b_ih, b_hh = layouts.lstm_to_torch(*weights)
    elif ours == "GRU":
        w_ih, w_hh, b_ih, b_hh = layouts.gru_to_torch(*weights, reset_after=bool(getattr(layer, "reset_after", True)))
    else:
        w_ih, w_hh, b_ih, b_hh = layouts.rnn_to_torch(*weights)
    out = {f"weight_ih_l{index}{suffix}": w_ih, f"weight_hh_l{index}{suffix}": w_hh}
    if b_ih is not None and b_hh is not None:
        out[f"bias_ih_l{index}{suffix}"] = b_ih
        out[f"bias_hh_l{index}{suffix}"] = b_hh
    return out


def _affine_flags(layer: Any) -> tuple[bool, bool]:
    """(scale, center) of a normalization layer: whether it holds gamma and beta (Keras creates neither when off)."""
    return bool(getattr(layer, "scale", True)), bool(getattr(layer, "center", True))


def _with_affine(layer: Any, weights: list[Array]) -> list[Array]:
    """A normalization layer's weights as [gamma, beta, *statistics], ones / zeros where the layer has none."""
    scale, center = _affine_flags(layer)
    stats = 2 if kind(layer) == "BatchNormalization" else 0
    if (scale and center) or not weights or len(weights) != int(scale) + int(center) + stats:
        return list(weights)
    ref = np.asarray(weights[-1])
    rest = list(weights)
    gamma = rest.pop(0) if scale else np.ones_like(ref)
    beta = rest.pop(0) if center else np.zeros_like(ref)
    return [gamma, beta, *rest]


def _without_affine(layer: Any, full: list[Array], current: list[Array]) -> list[Array]:
    """``full`` = [gamma, beta, *statistics] from torch, less what the layer does not hold (which must be 1 / 0)."""
    if len(full) == len(current):
        return full
    scale, center = _affine_flags(layer)
    gamma, beta, *rest = full
    out = []
    parts = (("scale", scale, "gamma", gamma, "weight", 1.0), ("center", center, "beta", beta, "bias", 0.0))
    for flag, keep, ours, value, theirs, identity in parts:
        if keep:
            out.append(value)
        elif not np.all(np.asarray(value) == identity):
            raise ValueError(
                f"layer {describe(layer)} has {flag}=False (no {ours}), but the torch {theirs} is not all {identity:g}s"
            )
    return out + rest


def _export(layer: Any, weights: list[Array], index: int) -> dict[str, Array]:
    """The torch leaves (names relative to the module) holding ``weights``, the layer's weights."""
    _check_supported(layer)
    ours = kind(layer)
    if ours in ("BatchNormalization", "LayerNormalization"):
        weights = _with_affine(layer, weights)
    try:
        if ours == "Bidirectional":
            n = len(layer_weights(layer.forward_layer))
            out = _rnn_export(layer.forward_layer, weights[:n], index, "")
            out.update(_rnn_export(layer.backward_layer, weights[n:], index, "_reverse"))
            return out
        if ours in RECURRENT:
            return _rnn_export(layer, weights, index, "")
        if ours == "Embedding":
            return {"weight": layouts.embedding_to_torch(*weights)}
        if ours == "BatchNormalization":
            names = ("weight", "bias", "running_mean", "running_var")
            out = dict(zip(names, layouts.batch_norm_to_torch(*weights)))
            if _affine_flags(layer) == (False, False):  # BatchNorm1d(affine=False)
                del out["weight"], out["bias"]
            out["num_batches_tracked"] = np.array(0, dtype=np.int64)
            return out
        if ours == "LayerNormalization":
            w, b = layouts.layer_norm_to_torch(*weights)
            if not _affine_flags(layer)[1]:  # LayerNorm(bias=False)
                b = None
        elif ours == "Dense":
            w, b = layouts.linear_to_torch(*weights)
        else:  # Conv1D
            w, b = layouts.conv1d_to_torch(*weights)
        return {"weight": w} if b is None else {"weight": w, "bias": b}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"layer {describe(layer)} with weights {shapes(weights)}: {exc}") from exc


def _rnn_import(layer: Any, current: list[Array], got: dict[str, Array], index: int, suffix: str) -> list[Array]:
    args = [got.get(f"{name}_l{index}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    convert = {"LSTM": layouts.lstm_from_torch, "GRU": layouts.gru_from_torch}.get(kind(layer), layouts.rnn_from_torch)
    return list(convert(*args))[: len(current)]


def _import(layer: Any, current: list[Array], got: dict[str, Array], index: int) -> list[Array]:
    """The layer's new weights (Keras layout and order) from checked torch leaves ``got``."""
    ours = kind(layer)
    if ours == "Bidirectional":
        n = len(layer_weights(layer.forward_layer))
        return _rnn_import(layer.forward_layer, current[:n], got, index, "") + _rnn_import(
            layer.backward_layer, current[n:], got, index, "_reverse"
        )
    if ours in RECURRENT:
        return _rnn_import(layer, current, got, index, "")
    if ours == "Embedding":
        return [layouts.embedding_from_torch(got["weight"])]
    if ours == "BatchNormalization":
        names = ("weight", "bias", "running_mean", "running_var")
        mean = got["running_mean"]
        defaults = {"weight": np.ones_like(mean), "bias": np.zeros_like(mean)}  # BatchNorm1d(affine=False)
        full = list(layouts.batch_norm_from_torch(*(got.get(n, defaults.get(n)) for n in names)))
        return _without_affine(layer, full, current)
    if ours == "LayerNormalization":
        return _without_affine(layer, list(layouts.layer_norm_from_torch(got["weight"], got.get("bias"))), current)
    convert = {
        "Dense": layouts.linear_from_torch,
        "Conv1D": layouts.conv1d_from_torch,
    }[ours]
    new = list(convert(got["weight"], got.get("bias")))[: len(current)]
    return [np.zeros_like(c) if a is None else a for a, c in zip(new, current)]


def _optional_leaf(leaf: str) -> bool:
    """Leaves a torch module may lack: biases (bias=False means zeros) and BatchNorm's step counter."""
    return leaf.startswith("bias") or leaf == "num_batches_tracked"


def _read_layer(
    layer: Any, current: list[Array], prefix: str, index: int, state: Mapping[str, Array], used: set[str]
) -> list[Array]:
    """Check the torch keys of one layer against its weights and convert them; records the keys used."""
    expected = _export(layer, current, index)
    got: dict[str, Array] = {}
    for leaf, want in expected.items():
        key = _join(prefix, leaf)
        if key not in state:
            if _optional_leaf(leaf):
                continue
            raise ValueError(
                f"layer {describe(layer)}: torch key {key!r} is missing from the state_dict "
                f"(expected shape {want.shape} to match the layer's weights {shapes(current)})"
            )
        used.add(key)
        if leaf == "num_batches_tracked":
            continue
        found = state[key]
        if found.shape != want.shape:
            raise ValueError(
                f"layer {describe(layer)}: torch key {key!r} has shape {tuple(found.shape)}, expected "
                f"{want.shape} to match the layer's weights {shapes(current)}"
            )
        got[leaf] = found
    return _import(layer, current, got, index)


# ---------------------------------------------------------------- mapping


def _targets(mapping: Mapping[str, TorchTarget] | None, layers: list[Any]) -> dict[str, tuple[str, int]]:
    """The checked mapping, each value as (prefix, layer index)."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise TypeError(f"mapping must be a dict of layer name -> torch prefix, got {type(mapping).__name__}")
    by_name = {getattr(layer, "name", None): layer for layer in layers}
    out = {}
    for name, target in mapping.items():
        if name not in by_name:
            known = [getattr(layer, "name", None) for layer in layers]
            raise ValueError(f"mapping names layer {name!r}, but the model has no such layer (its layers: {known})")
        if isinstance(target, str):
            prefix, index = target, 0
        elif (
            isinstance(target, (tuple, list))
            and len(target) == 2
            and isinstance(target[0], str)
            and isinstance(target[1], (int, np.integer))
            and not isinstance(target[1], bool)
            and target[1] >= 0
        ):
            prefix, index = target[0], int(target[1])
        else:
            raise TypeError(
                f"mapping[{name!r}] must be a torch prefix (str) or a (prefix, layer index >= 0) tuple, got {target!r}"
            )
        layer = by_name[name]
        if index and kind(layer) not in (*RECURRENT, "Bidirectional"):
            raise ValueError(
                f"mapping[{name!r}] = {target!r}: a layer index applies only to recurrent layers, "
                f"and layer {describe(layer)} is not one"
            )
        out[name] = (prefix.rstrip("."), index)
    return out


# ---------------------------------------------------------------- public API


def load_torch_state_dict(
    model_or_layer: ModelOrLayer,
    state_dict: Mapping[str, Any],
    mapping: Mapping[str, TorchTarget] | None = None,
    strict: bool = True,
) -> None:
    """Copy a torch ``state_dict`` into a seqcore model or layer.

    state_dict: torch key -> tensor or array (e.g. ``torch_module.state_dict()``).
    mapping: our layer name -> torch prefix, or (prefix, k) for layer k of a multi-layer
        torch RNN; layers left out use their own name as prefix.  Without a mapping the
        weighted layers are paired in order with the torch modules (see the module docs);
        their counts and kinds must agree, whatever ``strict`` says.
    strict: raise when a torch key is not used, or (with a mapping) when a weighted layer
        finds none of its keys.  Without strict those keys and layers are left alone.

    Every layer is checked before any is changed; errors name our layer, the torch key
    and both shapes.  Values are cast to the dtype of the weights they replace.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of torch key -> tensor, got {type(state_dict).__name__}")
    state = {str(k): to_numpy(v) for k, v in state_dict.items()}
    layers = flat_layers(model_or_layer)
    targets = _targets(mapping, layers)
    pairs = weighted(layers)
    modules = _group(state)
    plan: list[tuple[Any, list[Array], str, int]] = []  # (layer, its weights, prefix, index)
    if mapping is None:
        if len(pairs) != len(modules):
            ours = [describe(layer) for layer, _ in pairs]
            theirs = [m.label() for m in modules]
            raise ValueError(
                f"the model has {len(pairs)} weighted layers {ours} but the state_dict holds {len(modules)} torch "
                f"modules {theirs}; pass mapping={{layer name: torch prefix}} to pair them"
            )
        hint = "; pass mapping={layer name: torch prefix} to pair layers explicitly"
        for (layer, current), module in zip(pairs, modules):
            _check_supported(layer)
            _check_kind(layer, module, state, hint)
            plan.append((layer, current, module.prefix, module.index or 0))
    else:
        found = {(m.prefix, m.index): m for m in modules}
        default = "" if not is_model(model_or_layer) else None
        for layer, current in pairs:
            prefix, index = targets.get(layer.name, (layer.name if default is None else default, 0))
            _check_supported(layer)
            recurrent = kind(layer) in (*RECURRENT, "Bidirectional")
            module = found.get((prefix, index if recurrent else None))
            if module is None:
                if not strict and layer.name not in targets:
                    continue
                where = f"{prefix!r} layer {index}" if recurrent else repr(prefix)
                prefixes = sorted({m.prefix for m in modules})
                raise ValueError(
                    f"layer {describe(layer)}: the state_dict has no torch module {where} "
                    f"(its modules: {prefixes}){'' if layer.name in targets else '; add the layer to mapping'}"
                )
            _check_kind(layer, module, state, "")
            plan.append((layer, current, prefix, index))
    used: set[str] = set()
    new = [_read_layer(layer, current, prefix, index, state, used) for layer, current, prefix, index in plan]
    unused = [k for k in state if k not in used]
    if strict and unused:
        raise ValueError(f"torch keys not used by any layer (pass strict=False to ignore them): {unused}")
    for (layer, current, _, _), arrays in zip(plan, new):
        assign(layer, arrays, current)


def torch_state_dict(
    model_or_layer: ModelOrLayer, mapping: Mapping[str, TorchTarget] | None = None
) -> dict[str, Array]:
    """The weights of a seqcore model or layer as a torch state_dict of NumPy arrays.

    mapping: our layer name -> torch prefix, or (prefix, k) to write layer k of a
        multi-layer torch RNN.  Layers left out use their own name as prefix; a single
        layer without a mapping gets bare keys (``weight_ih_l0``, ``weight`` ...).

    ``torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``
    loads it into the equivalent torch modules.  LSTM and RNN biases go to ``bias_ih``
    (``bias_hh`` is zeros); a GRU with ``reset_after=False`` raises ValueError.
    """
    layers = flat_layers(model_or_layer)
    targets = _targets(mapping, layers)
    single = not is_model(model_or_layer)
    out: dict[str, Array] = {}
    owner: dict[str, Any] = {}
    for layer, current in weighted(layers):
        prefix, index = targets.get(layer.name, ("" if single else layer.name, 0))
        for leaf, arr in _export(layer, current, index).items():
            key = _join(prefix, leaf)
            if key in out:
                raise ValueError(
                    f"layers {describe(owner[key])} and {describe(layer)} would both write torch key {key!r}; "
                    "give them distinct prefixes or (prefix, layer index) pairs in mapping"
                )
            out[key] = arr
            owner[key] = layer
    return out
