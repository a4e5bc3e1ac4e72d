"""Layer configs to and from JSON-able dicts: ``{"class_name": ..., "config": {...}}``."""

from __future__ import annotations

import inspect
from typing import Any

from .layer import Layer

_CUSTOM: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a custom Layer loadable by ``load_model`` without custom_objects."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a Layer subclass, got {cls!r}")
    _CUSTOM[cls.__name__] = cls
    return cls


def _builtin() -> dict[str, type]:
    from . import conv, core, merge, model, normalization, recurrent  # noqa: PLC0415  (they import this module)
    from .layer import InputLayer  # noqa: PLC0415

    found: dict[str, type] = {"InputLayer": InputLayer}
    for module in (core, recurrent, conv, normalization, merge, model):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, Layer) and not name.startswith("_"):
                found[name] = obj
    return found


def serialize_layer(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(spec: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
    """A new layer (unbuilt) from ``serialize_layer``'s output."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"layer config: expected {{'class_name': ..., 'config': ...}}, got {spec!r}")
    name = spec["class_name"]
    cls = (custom_objects or {}).get(name) or _CUSTOM.get(name) or _builtin().get(name)
    if cls is None:
        raise ValueError(
            f"unknown layer class {name!r}: register it with seqcore.nn.register_layer or pass it in custom_objects"
        )
    config = dict(spec.get("config", {}))
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)
