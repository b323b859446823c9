"""Models: a graph of layer calls that is itself a layer, plus Keras 2's compile / train_on_batch / predict.

``Model(inputs, outputs)`` walks back from ``outputs`` to ``inputs`` through the Nodes that layer calls
recorded (``engine/``) and keeps them in order; the graph may branch and join (``Concatenate``).
Running the model runs those calls again on real data. Because a Model is a Layer, it can be called on a symbolic tensor too -- which is how the book
builds its GAN: ``gan = Model(z, discriminator(generator(z)))`` shares the weights of both.

Freezing follows Keras 2, and the book depends on it: ``compile()`` takes a snapshot of the model's
trainable weights, and ``train_on_batch`` updates exactly that snapshot, whatever ``trainable`` says
later. So ``discriminator.trainable = False`` *after* compiling the discriminator freezes it only
inside the GAN (compiled afterwards); ``discriminator.train_on_batch`` still trains it.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session(); minigan.random.seed(0)
>>> z = minigan.Input(shape=(4,))
>>> model = minigan.Model(z, layers.Dense(1, activation="sigmoid")(layers.Dense(8)(z)))
>>> model.compile(optimizer="rmsprop", loss="binary_crossentropy")
>>> x, y = minigan.backend.numpy.ones((2, 4)), minigan.backend.numpy.ones((2, 1))
>>> loss = model.train_on_batch(x, y)          # a Python float
>>> model.predict(x).shape, type(model.predict(x)).__name__
((2, 1), 'ndarray')
"""

from . import arguments, backend, losses, optimizers
from .backend import numpy as host_numpy
from .engine import functional
from .engine.base_layer import Layer, _unique, as_batch, unique_name
from .engine.input_layer import Input, InputLayer
from .engine.node import KerasTensor, format_shape
from .summary import print_summary
from .tensor import Tensor, enable_grad, no_grad
from .weights_io import load_weights, save_weights


class Model(Layer):
    """A functional model from one ``Input`` to one output tensor. Callable like a layer.

    >>> import minigan
    >>> from minigan import layers
    >>> minigan.clear_session()
    >>> x = minigan.Input(shape=(3,))
    >>> m = minigan.Model(x, layers.Dense(2)(x))
    >>> m.name, [layer.name for layer in m.layers], m.count_params()
    ('model', ['input_1', 'dense'], 8)
    """

    summary_type = "Functional"  # what Keras 2.4+ prints for Model(inputs, outputs)

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name=name if name is not None else unique_name("model"))
        self.input, self.output = _single(inputs, "inputs", self.name), _single(outputs, "outputs", self.name)
        if self.input.node is None or not isinstance(self.input.node.layer, InputLayer):
            raise ValueError(f"Model '{self.name}': inputs must come from minigan.Input(...), got {self.input!r}")
        self._nodes_in_order = functional.trace(self.input, self.output, self.name)
        self._layers = [self.input.node.layer] + _unique(node.layer for node in self._nodes_in_order)
        self._finish_init()

    def _finish_init(self):
        self.dtype = self.input.dtype
        self.built = True
        _check_unique(self)
        self.optimizer = self.loss = None
        self._trained_weights = None  # the compile-time snapshot of trainable weights

    # -- structure -------------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    def flatten_layers(self):
        yield self
        for layer in self._layers:
            yield from layer.flatten_layers()

    def get_layer(self, name):
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}' has no layer named {name!r}; it has {[l.name for l in self._layers]}")

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):  # Keras 2: setting it on a model sets it on every layer inside
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return _unique(w for layer in self._layers for w in layer.trainable_weights)

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return _unique(w for layer in self._layers for w in layer.weights)
        return _unique(w for layer in self._layers for w in layer.non_trainable_weights)

    def all_weights(self):
        return _unique(w for layer in self._layers for w in layer.all_weights())

    input_shape = property(lambda self: self.input.shape)
    output_shape = property(lambda self: self.output.shape)
    inputs = property(lambda self: [self.input])     # Keras' list spellings
    outputs = property(lambda self: [self.output])

    # -- running ---------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        expected = self.input.shape
        if len(input_shape) != len(expected) or any(e is not None and e != a for e, a in zip(expected, input_shape)):
            raise ValueError(f"Model '{self.name}' expects input of shape {format_shape(expected)}, "
                             f"got {'an input' if None in input_shape else 'an array'} of shape "
                             f"{format_shape(input_shape)}")
        return (input_shape[0],) + self.output.shape[1:]

    def call(self, x, training=False):
        """Replay the recorded layer calls on the Tensor ``x`` (each result dropped after its last reader)."""
        if getattr(self, "_plan_for", None) != len(self._nodes_in_order):  # a Sequential grows; plan again
            self._plan = functional.release_plan(self._nodes_in_order, self.output)
            self._plan_for = len(self._nodes_in_order)
        return functional.run(self._nodes_in_order, self._plan, self.input, self.output, x, training)

    # -- Keras 2 training API --------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer and loss, and snapshot the trainable weights (Keras 2 semantics)."""
        if loss is None:
            raise ValueError(f"Model '{self.name}'.compile needs a loss, e.g. loss='binary_crossentropy' "
                             f"(known: {sorted(losses.LOSSES)})")
        if metrics:
            raise ValueError(f"Model '{self.name}'.compile: metrics are not supported by minigan (got {metrics!r}); "
                             "train_on_batch and evaluate return the loss only")
        self.optimizer, self.loss = optimizers.get(optimizer), losses.get(loss)
        self._trained_weights = list(self.trainable_weights) if self.built else None
        if self._trained_weights is not None:
            self.optimizer.build(self._trained_weights)

    def train_on_batch(self, x, y):
        """One optimizer step on one batch (training=True: Dropout active). Returns the loss as a float.

        Only the weights snapshotted by ``compile()`` get gradients and updates; every other weight
        (a frozen sub-model) is left bit-for-bit unchanged, while gradients still flow *through* it.
        """
        if self.optimizer is None:
            raise RuntimeError(f"Model '{self.name}' must be compiled before training: call "
                               f"{self.name}.compile(optimizer=..., loss=...) first")
        x = self._input_tensor(x, "train_on_batch")
        if x.shape[0] == 0:  # the mean loss of no samples is NaN, and its step would be too
            raise ValueError(f"Model '{self.name}'.train_on_batch: the batch is empty (x has shape {x.shape})")
        if self._trained_weights is None:  # a Sequential built only now, by its first batch
            self._trained_weights = list(self.trainable_weights)
            self.optimizer.build(self._trained_weights)
        trained = {id(w) for w in self._trained_weights}
        every = self.all_weights()
        flags = [w.requires_grad for w in every]
        try:
            for w in every:  # autograd records and back-propagates into the snapshot only
                w.requires_grad = id(w) in trained
                w.grad = None
            with enable_grad():
                out = self(x, training=True)
                loss = losses.compiled_loss(self.loss, self._target_tensor(y, out, "train_on_batch"), out)
            loss.backward()
            self.optimizer.apply_gradients([(w.grad, w) for w in self._trained_weights if w.grad is not None])
        finally:
            for w, flag in zip(every, flags):
                w.requires_grad, w.grad = flag, None
        return float(loss.data)  # the one host sync of a step

    def predict(self, x, batch_size=32, verbose=0):
        """Run the model in inference mode (no Dropout, no graph) batch by batch; a host NumPy array."""
        x = self._input_array(x, "predict")
        batch_size = _batch_size(batch_size, self.name, "predict")
        outputs = []
        with no_grad():
            for start in range(0, len(x), batch_size):
                outputs.append(backend.to_numpy(self(x[start:start + batch_size], training=False).data))
        if not outputs:
            return host_numpy.zeros((0,) + self.output.shape[1:], dtype=self.output.dtype)
        return host_numpy.concatenate(outputs)

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """The compiled loss over (x, y) in inference mode, averaged over samples (as Keras)."""
        if self.loss is None:
            raise RuntimeError(f"Model '{self.name}' must be compiled before evaluate: call "
                               f"{self.name}.compile(optimizer=..., loss=...) first")
        x = self._input_array(x, "evaluate")
        batch_size = _batch_size(batch_size, self.name, "evaluate")
        owner = f"Model '{self.name}'.evaluate"
        y = y.data if isinstance(y, Tensor) else as_batch(y, self.output.dtype, owner, "targets")
        if len(x) == 0:  # a mean over no samples: 0.0 (as it was) would be a made-up number
            raise ValueError(f"Model '{self.name}'.evaluate: x holds no samples (shape {tuple(x.shape)})")
        if len(y) != len(x):
            raise ValueError(f"Model '{self.name}'.evaluate: x has {len(x)} samples but y has {len(y)}")
        total = 0.0
        with no_grad():
            for start in range(0, len(x), batch_size):
                out = self(x[start:start + batch_size], training=False)
                target = self._target_tensor(y[start:start + batch_size], out, "evaluate")
                total += float(losses.compiled_loss(self.loss, target, out).data) * out.shape[0]
        return total / len(x)

    def _input_array(self, x, method):
        """Check the shape of ``x`` (array or Tensor) against the model's input, naming both on error."""
        data = x.data if isinstance(x, Tensor) else x
        if not hasattr(data, "shape"):
            data = host_numpy.asarray(data)
        self.compute_output_shape(tuple(data.shape))
        return data

    def _input_tensor(self, x, method):
        if isinstance(x, Tensor):
            self.compute_output_shape(x.shape)
            return x
        return self._to_tensor(self._input_array(x, method))

    def _target_tensor(self, y, out, method):
        """Targets on the backend in the output's dtype; (N,) targets for an (N, 1) output are expanded."""
        y = y if isinstance(y, Tensor) else Tensor(as_batch(y, out.dtype, f"Model '{self.name}'.{method}", "targets"))
        if y.dtype != out.dtype:
            y = y.astype(out.dtype)
        if y.ndim == out.ndim - 1 and out.shape[-1] == 1:
            y = y.reshape(y.shape + (1,))
        if y.shape != out.shape:
            raise ValueError(f"Model '{self.name}'.{method}: the model outputs shape {out.shape} but the targets "
                             f"have shape {y.shape}")
        return y

    # -- inspection and weights ------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the Keras 2 table: layer (type), output shape, param #, then the totals."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def save_weights(self, filepath):
        """Write every weight to ``filepath`` as a NumPy .npz keyed "layer/weight" (atomically; see weights_io)."""
        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights written by :meth:`save_weights`; a mismatch raises and loads nothing."""
        load_weights(self, filepath)


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(8, input_shape=(4,)), Dense(1)])``.

    Built as soon as the input shape is known (an ``InputLayer``/``Input`` first, or ``input_shape=``
    on the first layer); otherwise at the first call on data. Its summary omits the input row, as Keras.

    >>> import minigan
    >>> from minigan import layers
    >>> minigan.clear_session()
    >>> m = minigan.Sequential([layers.Dense(8, input_shape=(4,)), layers.Dense(1)])
    >>> m.output_shape, [layer.name for layer in m.layers]
    ((None, 1), ['dense', 'dense_1'])
    """

    summary_type = "Sequential"

    def __init__(self, layers=None, name=None):
        Layer.__init__(self, name=name if name is not None else unique_name("sequential"))
        self.input = self.output = None
        self._nodes_in_order, self._layers, self._stack = [], [], []
        self.optimizer = self.loss = None
        self._trained_weights = None
        for layer in layers or ():
            self.add(layer)

    def add(self, layer):
        """Append a layer (or, first, an Input / InputLayer)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack or self.input is not None:
                raise ValueError(f"Sequential '{self.name}': an input can only be the first thing added")
            self._start(layer.output)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}'.add expects a layer, got {type(layer).__name__}")
        self._stack.append(layer)
        if self.input is None and len(self._stack) == 1 and layer._batch_input_shape is not None:
            self._start(Input(shape=layer._batch_input_shape[1:]), replay=False)
        if self.input is not None:
            self._append(layer)

    def _start(self, input_tensor, replay=True):
        self.input = self.output = input_tensor
        self._layers = []
        if replay:
            for layer in self._stack:
                self._append(layer)

    def _append(self, layer):
        self.output = layer(self.output)
        self._nodes_in_order.append(self.output.node)
        self._layers.append(layer)
        self._finish_init()

    def _finish_init(self):
        self.dtype = self.input.dtype
        self.built = True
        _check_unique(self)

    def _build_from_data(self, shape, dtype):
        if self.input is None:
            self._start(Input(shape=tuple(shape[1:]), dtype=dtype if dtype.kind == "f" else None))

    def __call__(self, x, training=None):
        if self.input is None:
            data = getattr(x, "data", x) if not isinstance(x, KerasTensor) else x
            self._build_from_data(data.shape, getattr(data, "dtype", host_numpy.dtype("float32")))
        return super().__call__(x, training=training)

    def _input_array(self, x, method):
        if self.input is None:
            data = x.data if isinstance(x, Tensor) else host_numpy.asarray(x) if not hasattr(x, "shape") else x
            self._build_from_data(data.shape, data.dtype)
        return super()._input_array(x, method)

    @property
    def layers(self):
        return list(self._layers)

    def compute_output_shape(self, input_shape):
        if self.input is None:
            raise ValueError(f"Sequential '{self.name}' does not know its input shape yet; start it with "
                             "minigan.Input(shape=...) or give input_shape= to its first layer")
        return super().compute_output_shape(input_shape)


def _batch_size(value, name, method):
    """Keras' batch_size: None means 32; else a whole number >= 1 (0 would loop forever, -1 predict nothing)."""
    return 32 if value is None else arguments.integer(value, "batch_size", f"Model '{name}'.{method}")


def _single(tensors, what, name):
    """minigan models have one input and one output (all the book needs); accept a 1-element list."""
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            raise ValueError(f"Model '{name}': minigan models have exactly one {what[:-1]}, got {len(tensors)}")
        tensors = tensors[0]
    if not isinstance(tensors, KerasTensor):
        raise TypeError(f"Model '{name}': {what} must be symbolic tensors from minigan.Input / layer calls, "
                        f"got {type(tensors).__name__}")
    return tensors


def _check_unique(model):
    """Layer names within a model, and weight names anywhere inside it, must be unique (they key the
    weights file and the optimizer state)."""
    seen = set()
    for layer in model.layers:
        if layer.name in seen:
            raise ValueError(f"Model '{model.name}' has two layers named '{layer.name}'; layer names must be "
                             "unique within a model (pass a different name=...)")
        seen.add(layer.name)
    names = set()
    for weight in model.all_weights():
        if weight.name in names:
            raise ValueError(f"Model '{model.name}' holds two different weights named '{weight.name}' "
                             "(two layers given the same name=...); rename one of the layers")
        names.add(weight.name)
