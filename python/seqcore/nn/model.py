"""Model (functional graphs and subclassing) and Sequential, with Keras's ``summary()``.

A functional model keeps the ``GraphNode``s between its inputs and outputs in topological
order and replays them on real tensors; a layer called several times (shared weights, the
attention and music models' loops) appears once in ``layers`` and once per call in the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd import Tensor
from .layer import GraphNode, InputLayer, KerasTensor, Layer, flatten, format_shape, map_structure, to_tensor
from .saving import SavingMixin
from .training import TrainingMixin


def _graph(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[GraphNode]:
    """The nodes that compute ``outputs`` from ``inputs``, each after the nodes feeding it."""
    allowed = {id(t.node) for t in inputs}
    order: list[GraphNode] = []
    done: set[int] = set()
    visiting: set[int] = set()
    stack: list[tuple[GraphNode, bool]] = [(t.node, False) for t in reversed(outputs) if t.node is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            visiting.discard(id(node))
            if id(node) not in done:
                done.add(id(node))
                order.append(node)
            continue
        if id(node) in done:
            continue
        if isinstance(node.layer, InputLayer) and id(node) not in allowed:
            raise ValueError(
                f"Graph disconnected: the output depends on input {node.layer.name!r}, which is not among the "
                f"model's inputs ({', '.join(t.node.layer.name for t in inputs)})"
            )
        visiting.add(id(node))
        stack.append((node, True))
        for t in reversed(node.inputs()):
            if t.node is not None and id(t.node) not in done:
                stack.append((t.node, False))
    return order


class Model(TrainingMixin, SavingMixin, Layer):
    """``Model(inputs, outputs)`` from symbolic tensors, or subclass it and define ``call``."""

    _masks_from_graph = True

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._graph_nodes: list[GraphNode] | None = None
        self._inputs: list[KerasTensor] = []
        self._outputs: list[KerasTensor] = []
        self._input_struct: Any = None
        self._output_struct: Any = None
        self.stop_training = False
        if inputs is None and outputs is None:
            return
        if inputs is None or outputs is None:
            raise ValueError("Model: give both inputs and outputs (symbolic tensors), or neither to subclass")
        self._set_graph(inputs, outputs)

    # ---- functional graph
    def _set_graph(self, inputs: Any, outputs: Any) -> None:
        ins = list(flatten(inputs))
        outs = list(flatten(outputs))
        for t in ins:
            if not isinstance(t, KerasTensor) or not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: inputs must come from nn.Input(...), got {t!r}")
        for t in outs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model: outputs must be symbolic tensors from layer calls, got {t!r}")
        self._inputs, self._outputs = ins, outs
        self._input_struct, self._output_struct = inputs, outputs
        self._graph_nodes = _graph(ins, outs)
        layers: list[Layer] = []
        for node in self._graph_nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        names = [layer.name for layer in layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"Model: all layer names should be unique; repeated: {', '.join(dupes)}")
        object.__setattr__(self, "_sublayers", layers)
        self.built = True

    @property
    def is_graph(self) -> bool:
        return self._graph_nodes is not None

    @property
    def layers(self) -> list[Layer]:
        """The model's layers, each once, in the order they first run (Input layers included)."""
        return list(self._sublayers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.node.layer.name for t in self._outputs]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}")

    def _feed(self, inputs: Any) -> dict[int, Any]:
        """Map the model's Input tensors to the given values (one, a list, or a dict by input name)."""
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}': missing inputs {missing}; expected {self.input_names}")
            values = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, (list, tuple)) and len(self._inputs) > 1:
            values = list(inputs)
        else:
            values = [inputs]
        if len(values) != len(self._inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self._inputs)} input(s) {self.input_names}, got {len(values)}"
            )
        feed: dict[int, Any] = {}
        for kt, value in zip(self._inputs, values):
            t = to_tensor(value)
            if t.dtype != kt.dtype and t.dtype.kind == "f" and kt.dtype.kind == "f":
                t = Tensor._wrap(t.data.astype(kt.dtype))  # float64 data into a float32 model, as Keras casts
            expected = kt.shape
            if t.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected[1:], t.shape[1:])):
                raise ValueError(
                    f"Input '{kt.node.layer.name}' of model '{self.name}' is incompatible: expected shape "
                    f"{format_shape(expected)}, got {format_shape((None, *t.shape[1:]))}"
                )
            feed[id(kt)] = t
        return feed

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._graph_nodes is None:
            raise NotImplementedError(f"Model '{self.name}': subclasses without inputs/outputs must define call()")
        values = self._feed(inputs)

        def lookup(obj: Any) -> Any:
            return values[id(obj)] if isinstance(obj, KerasTensor) else obj

        for node in self._graph_nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = map_structure(lookup, node.args)
            kwargs = map_structure(lookup, node.kwargs)
            out = node.layer(*args, **kwargs)
            if len(node.outputs) == 1 and not isinstance(out, list):
                values[id(node.outputs[0])] = out
            else:
                for kt, t in zip(node.outputs, out):
                    values[id(kt)] = t
        return map_structure(lookup, self._output_struct)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._graph_nodes is not None:
            return map_structure(lambda t: t.shape, self._output_struct)
        return super().compute_output_shape(input_shape)

    # ---- summary
    def summary(self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print layers, output shapes and parameter counts in Keras's format."""
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' has not yet been built. Build the model first by calling build() or by "
                "calling the model on a batch of data (or give its first layer an input_shape)."
            )
        emit = print_fn or print
        graph = self._graph_nodes or []
        functional = self.is_graph and not isinstance(self, Sequential)
        line_length = line_length or (98 if functional else 65)
        widths = [0.33, 0.55, 0.67, 1.0] if functional else [0.45, 0.85, 1.0]
        stops = [int(line_length * w) for w in widths]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"][: len(stops)]

        def row(fields: list[str]) -> str:
            line = ""
            for field, stop in zip(fields, stops):
                line = (line + " " + field)[:stop].ljust(stop)
            return line.rstrip()

        emit(f'Model: "{self.name}"')
        emit("_" * line_length)
        emit(row(headers))
        emit("=" * line_length)
        shown = [layer for layer in self.layers if functional or not isinstance(layer, InputLayer)]
        for i, layer in enumerate(shown):
            nodes = [n for n in graph if n.layer is layer]
            if nodes:
                outs = [t.shape for t in nodes[0].outputs]
                shape = format_shape(outs[0]) if len(outs) == 1 else format_shape(outs)
                if len({format_shape([t.shape for t in n.outputs]) for n in nodes}) > 1:
                    shape = "multiple"
            else:
                shape = "?"
            fields = [f"{layer.name} ({type(layer).__name__})", shape, str(layer.count_params())]
            if functional:
                sources = []
                for n in nodes:
                    for t in n.inputs():
                        sources.append(f"{t.node.layer.name}[{t.node.layer._inbound.index(t.node)}][{t.index}]")
                fields.append(", ".join(dict.fromkeys(sources)))
            emit(row(fields))
            emit(("=" if i == len(shown) - 1 else "_") * line_length)
        trainable = sum(v.size for v in self.trainable_weights)
        total = self.count_params()
        emit(f"Total params: {total:,}")
        emit(f"Trainable params: {trainable:,}")
        emit(f"Non-trainable params: {total - trainable:,}")
        emit("_" * line_length)


class Sequential(Model):
    """A stack of layers, each feeding the next: ``Sequential([Embedding(...), LSTM(...), Dense(...)])``."""

    def __init__(self, layers: list[Layer] | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Append a layer (or an ``Input(...)`` as the first entry, fixing the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("Sequential: an Input can only be the first entry")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer, got {layer!r}")
        if layer in self._stack:
            raise ValueError(f"Sequential: layer '{layer.name}' is already in the model")
        self._stack.append(layer)
        object.__setattr__(self, "_sublayers", list(self._stack))
        if self._input_layer is None and len(self._stack) == 1 and layer._batch_input_shape is not None:
            self._input_layer = InputLayer(batch_shape=layer._batch_input_shape, dtype=None)
        if self._input_layer is not None:
            self._rebuild_graph()

    def pop(self) -> Layer:
        if not self._stack:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._stack.pop()
        object.__setattr__(self, "_sublayers", list(self._stack))
        if self._input_layer is not None and self._stack:
            self._rebuild_graph()
        return layer

    def _rebuild_graph(self) -> None:
        assert self._input_layer is not None
        x: Any = self._input_layer.output
        for layer in self._stack:
            x = layer(x)
            if isinstance(x, list):
                raise ValueError(f"Sequential: layer '{layer.name}' returns several outputs; use the functional API")
        inp = self._input_layer.output
        self._inputs, self._outputs = [inp], [x]
        self._input_struct, self._output_struct = inp, x
        self._graph_nodes = _graph([inp], [x])
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def build(self, input_shape: Any = None) -> None:
        if self._graph_nodes is not None:
            return
        if input_shape is None:
            raise ValueError("Sequential.build: input_shape is required, e.g. build((None, T, D))")
        self._input_layer = InputLayer(batch_shape=(None, *tuple(input_shape)[1:]))
        self._rebuild_graph()

    def _maybe_build(self, input_shape: Any) -> None:
        if self._graph_nodes is None:
            self.build(input_shape)

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        x = inputs  # each layer checks its own input shape
        for layer in self._stack:
            x = layer(x)
        return x

    def get_config(self) -> dict[str, Any]:
        from .serialization import serialize_layer  # noqa: PLC0415

        config: dict[str, Any] = {"name": self.name, "layers": [serialize_layer(layer) for layer in self._stack]}
        if self._input_layer is not None:
            config["input"] = self._input_layer.get_config()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Sequential:
        from .serialization import deserialize_layer  # noqa: PLC0415

        model = cls(name=config.get("name"))
        if "input" in config:
            model.add(InputLayer(**config["input"]))
        for spec in config.get("layers", []):
            model.add(deserialize_layer(spec, custom_objects))
        return model
