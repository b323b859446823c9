"""``model.summary()``: the Keras 2 table, character for character (TF 2.3's ``print_summary`` layout).

Columns end at 45%, 85% and 100% of 65 characters (29, 55, 65); a field longer than its column is
cut, which is why Keras prints ``conv2d_transpose (Conv2DTran``. Row counts are plain integers, the
totals get thousands separators, and an InputLayer's shape is printed as a list, ``[(None, 32)]``.
Trainable and non-trainable counts follow the *current* ``trainable`` flags (as Keras 2 does), so
after ``discriminator.trainable = False`` the GAN's summary lists the discriminator as non-trainable.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = minigan.Input(shape=(3,))
>>> minigan.Model(x, layers.Dense(2)(x)).summary()  # doctest: +NORMALIZE_WHITESPACE
Model: "model"
_________________________________________________________________
Layer (type)                 Output Shape              Param #   
=================================================================
input_1 (InputLayer)         [(None, 3)]               0         
_________________________________________________________________
dense (Dense)                (None, 2)                 8         
=================================================================
Total params: 8
Trainable params: 8
Non-trainable params: 0
_________________________________________________________________
"""

from .engine.base_layer import _unique
from .engine.input_layer import InputLayer
from .engine.node import format_shape


def _row(fields, positions):
    """One line of the table: each field starts one space after the previous column's end, cut to its column."""
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[:positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def _output_shape(layer):
    if isinstance(layer, InputLayer):
        return f"[{format_shape(layer.output.shape)}]"
    try:
        return format_shape(layer.output_shape)
    except AttributeError:  # called with several different shapes
        return "multiple"


def is_chain(model):
    """True when every layer call reads the previous one's output: Keras then prints the 3-column table.

    A model whose graph branches (a tensor read twice, a Concatenate) gets a 4th column, "Connected to".
    """
    nodes = getattr(model, "_nodes_in_order", [])
    previous = model.input
    for node in nodes:
        if node.inputs != [previous]:
            return False
        previous = node.output
    return len({id(node.layer) for node in nodes}) == len(nodes)  # a layer called twice: not a chain


def _connections(layer, model):
    """``["input_1[0][0]", ...]``: the layer and call number of every tensor this layer reads in ``model``."""
    inside = {id(node) for node in model._nodes_in_order}
    return [f"{t.node.layer.name}[{t.node.layer._nodes.index(t.node)}][0]"
            for node in layer._nodes if id(node) in inside for t in node.inputs]


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print (or pass each line to ``print_fn``) the summary table of ``model``."""
    chain = is_chain(model)
    line_length = line_length or (65 if chain else 98)
    positions = positions or ([0.45, 0.85, 1.0] if chain else [0.33, 0.55, 0.67, 1.0])
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn = print_fn or print

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_fn(_row(["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"]), positions))
    print_fn("=" * line_length)
    rows = model.layers
    for i, layer in enumerate(rows):
        kind = layer.summary_type or type(layer).__name__
        params = layer.count_params() if layer.built else 0
        fields = [f"{layer.name} ({kind})", _output_shape(layer), params]
        if chain:
            print_fn(_row(fields, positions))
        else:
            connections = _connections(layer, model) or [""]
            print_fn(_row(fields + connections[:1], positions))
            for more in connections[1:]:  # one line per further input, as Keras
                print_fn(_row(["", "", "", more], positions))
        print_fn(("=" if i == len(rows) - 1 else "_") * line_length)
    trainable = sum(int(w.size) for w in _unique(model.trainable_weights))
    non_trainable = sum(int(w.size) for w in _unique(model.non_trainable_weights))
    print_fn(f"Total params: {trainable + non_trainable:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {non_trainable:,}")
    print_fn("_" * line_length)
