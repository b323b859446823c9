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

from .graph import InputLayer, _unique, format_shape


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


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print (or pass each line to ``print_fn``) the summary table of ``model``."""
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn = print_fn or print

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_fn(_row(["Layer (type)", "Output Shape", "Param #"], positions))
    print_fn("=" * line_length)
    rows = model.layers
    for i, layer in enumerate(rows):
        kind = layer.summary_type or type(layer).__name__
        params = layer.count_params() if layer.built else 0
        print_fn(_row([f"{layer.name} ({kind})", _output_shape(layer), params], positions))
        print_fn(("=" if i == len(rows) - 1 else "_") * line_length)
    trainable = sum(int(w.size) for w in _unique(model.trainable_weights))
    non_trainable = sum(int(w.size) for w in _unique(model.non_trainable_weights))
    print_fn(f"Total params: {trainable + non_trainable:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {non_trainable:,}")
    print_fn("_" * line_length)
