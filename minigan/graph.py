"""The functional API's machinery: symbolic tensors, nodes, the Layer base class and Input.

A Keras model is written in two phases, and so is a minigan one:

    x = Input(shape=(32,))          # a KerasTensor: shape (None, 32), a dtype, no numbers at all
    y = Dense(4)(x)                 # builds Dense's weights from (None, 32); y.shape == (None, 4)
    model = Model(x, y)             # walks back from y to x and keeps the calls in order

Calling a layer on a :class:`KerasTensor` computes nothing. It *builds* the layer (creates its
weights, now that the input shape is known), records a :class:`Node` -- "this layer was called on
that tensor and produced this one" -- and returns a new KerasTensor with the output shape. The
batch dimension is ``None``: any batch size fits. Calling the same layer on real data (a NumPy or
CuPy array, or a minigan Tensor) runs ``call`` and returns a Tensor; the weights are the same ones.

Names are generated as Keras does, unique per process: ``dense``, ``dense_1``, ...;
``input_1``, ``input_2``, ... for inputs. :func:`reset_names` (or ``minigan.clear_session()``) starts
the counters again, as ``keras.backend.clear_session()`` does.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(3,))
>>> x
<KerasTensor shape=(None, 3) dtype=float32 (from layer 'input_1')>
>>> d = layers.Dense(2)
>>> y = d(x)
>>> d.name, y.shape, [w.name for w in d.weights]
('dense', (None, 2), ['dense/kernel', 'dense/bias'])
"""

import re

from . import backend, initializers
from .backend import numpy as host_numpy
from .functional import astype
from .tensor import Tensor

# -- names ---------------------------------------------------------------------------------------
_name_counts = {}  # prefix -> how many objects took it so far


def unique_name(prefix, zero_based=True):
    """``prefix``, then ``prefix_1``, ``prefix_2``... (``zero_based=False``: ``prefix_1`` first, as inputs)."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    if zero_based:
        return prefix if count == 0 else f"{prefix}_{count}"
    return f"{prefix}_{count + 1}"


def reset_names():
    """Forget every generated name, so that the next Dense is ``dense`` again (tests, notebooks)."""
    _name_counts.clear()


clear_session = reset_names  # the Keras spelling: keras.backend.clear_session()


def snake_case(class_name):
    """Keras' rule for default names: ``LeakyReLU`` -> ``leaky_re_lu``, ``Conv2DTranspose`` -> ``conv2d_transpose``."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def format_shape(shape):
    """(None, 32) as Keras prints it."""
    return str(tuple(shape))


# -- symbolic tensors ----------------------------------------------------------------------------
class KerasTensor:
    """A placeholder for data yet to come: a shape (batch dimension ``None``), a dtype, and the Node
    that produced it. It has no values; it only lets layers be wired together and checked."""

    def __init__(self, shape, dtype, node=None):
        self.shape = tuple(shape)
        self.dtype = host_numpy.dtype(dtype)
        self.node = node

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        origin = f" (from layer '{self.node.layer.name}')" if self.node is not None else ""
        return f"<KerasTensor shape={self.shape} dtype={self.dtype}{origin}>"


class Node:
    """One call of ``layer`` on the symbolic tensor ``input``, giving ``output``. An Input's node has no input."""

    def __init__(self, layer, input, output):
        self.layer, self.input, self.output = layer, input, output
        output.node = self
        layer._nodes.append(self)


# -- the Layer base class ------------------------------------------------------------------------
class Layer:
    """Base of every layer (and of Model). A subclass writes:

    * ``build(input_shape)``: create the weights with :meth:`add_weight` (runs once, at the first call);
    * ``compute_output_shape(input_shape)``: the output shape, raising a clear error for a bad input;
    * ``call(x, training)``: the computation on a Tensor, with functional ops.

    ``trainable`` (default True) says whether the optimizer may change this layer's weights; see
    ``docs/keras-fidelity.md`` for when that is read (at ``compile()``, as Keras 2).
    """

    summary_type = None  # the "(type)" printed by summary(); the class name unless a class says otherwise

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None):
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self._trainable = bool(trainable)
        self.dtype = None if dtype is None else host_numpy.dtype(dtype)  # None: take the input's dtype
        self.built = False
        self._own_weights = []  # in creation order: kernel, then bias (Keras' order)
        self._nodes = []        # every symbolic call of this layer
        # Keras lets the first layer of a Sequential declare its input: Dense(8, input_shape=(4,)).
        self._batch_input_shape = None if input_shape is None else (None,) + _shape_tuple(input_shape, self)

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}' built={self.built}>"

    # -- weights ---------------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="glorot_uniform"):
        """Create a weight named ``<layer name>/<name>`` (e.g. ``dense/kernel``) on the active backend."""
        dtype = self.dtype or backend.DEFAULT_DTYPE
        data = initializers.get(initializer)(tuple(shape), dtype=dtype)
        weight = Tensor(backend.asarray(data, dtype=dtype), requires_grad=self._trainable, name=f"{self.name}/{name}")
        self._own_weights.append(weight)
        return weight

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for weight in self._own_weights:  # outside train_on_batch, autograd follows the flag
            weight.requires_grad = self._trainable

    @property
    def trainable_weights(self):
        return list(self._own_weights) if self._trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self._trainable else list(self._own_weights)

    @property
    def weights(self):
        """Keras' order: the trainable weights, then the non-trainable ones."""
        return self.trainable_weights + self.non_trainable_weights

    def all_weights(self):
        """Every weight in layer order, whatever the trainable flags (the order save_weights uses)."""
        return list(self._own_weights)

    def flatten_layers(self):
        """This layer and, for a model, every layer inside it (recursively)."""
        yield self

    def count_params(self):
        if not self.built:
            raise ValueError(f"{type(self).__name__} '{self.name}' is not built yet, so it has no weights to "
                             "count; call it on an Input (or on data) first")
        return sum(int(w.size) for w in _unique(self.weights))

    def get_weights(self):
        """Host NumPy copies of :attr:`weights`, in Keras' order."""
        return [host_numpy.array(backend.to_numpy(w.data)) for w in self.weights]

    def set_weights(self, arrays):
        """Replace the values of :attr:`weights` (same order and shapes as :meth:`get_weights`)."""
        weights, arrays = self.weights, list(arrays)
        kind = type(self).__name__
        if len(arrays) != len(weights):
            raise ValueError(f"{kind} '{self.name}' has {len(weights)} weights "
                             f"({[w.name for w in weights]}), but set_weights got {len(arrays)} arrays")
        for weight, array in zip(weights, arrays):
            if tuple(array.shape) != weight.shape:
                raise ValueError(f"{kind} '{self.name}': weight '{weight.name}' has shape {weight.shape}, "
                                 f"but set_weights got an array of shape {tuple(array.shape)}")
        for weight, array in zip(weights, arrays):
            weight.data[...] = backend.asarray(array, dtype=weight.dtype)

    # -- shapes and calls ------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch first, possibly None). Default: none."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement call(x, training)")

    @property
    def output_shape(self):
        """The output shape of this layer's symbolic calls (``multiple`` calls of different shapes: an error)."""
        shapes = {node.output.shape for node in self._nodes}
        if len(shapes) != 1:
            raise AttributeError(f"layer '{self.name}' has "
                                 + ("never been called" if not shapes else "several output shapes: 'multiple'"))
        return shapes.pop()

    @property
    def input_shape(self):
        shapes = {node.input.shape for node in self._nodes if node.input is not None}
        if len(shapes) != 1:
            raise AttributeError(f"layer '{self.name}' has "
                                 + ("never been called" if not shapes else "several input shapes: 'multiple'"))
        return shapes.pop()

    def _build_once(self, input_shape, dtype):
        if self.dtype is None:
            self.dtype = host_numpy.dtype(dtype) if host_numpy.dtype(dtype).kind == "f" else \
                host_numpy.dtype(backend.DEFAULT_DTYPE)
        if not self.built:
            self.compute_output_shape(input_shape)  # a bad input fails here with the layer's own message
            self.build(tuple(input_shape))
            self.built = True

    def __call__(self, x, training=None):
        """On a KerasTensor: record the call, return a KerasTensor. On data: compute, return a Tensor."""
        if isinstance(x, KerasTensor):
            self._build_once(x.shape, x.dtype)
            output = KerasTensor(self.compute_output_shape(x.shape), self.dtype)
            Node(self, x, output)
            return output
        if isinstance(x, (list, tuple)):
            raise TypeError(f"{type(self).__name__} '{self.name}' takes one input (a KerasTensor, an array or a "
                            f"Tensor), got a {type(x).__name__}; minigan layers have a single input")
        x = self._to_tensor(x)
        self._build_once((None,) + x.shape[1:], x.dtype)
        self.compute_output_shape(x.shape)  # validates the shape, with the layer's name in the error
        return self.call(x, training=bool(training))

    def _to_tensor(self, x):
        """Arrays become Tensors of this layer's dtype (Keras casts inputs to the layer's dtype too)."""
        dtype = self.dtype or backend.DEFAULT_DTYPE
        if isinstance(x, Tensor):
            return x if x.dtype == dtype or not self.built else astype(x, dtype)
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            x = host_numpy.asarray(x)
        if getattr(x, "ndim", 0) < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs a batch of inputs (an array with a batch "
                             f"axis first), got {x!r}")
        return Tensor(backend.asarray(x, dtype=dtype))


def _unique(items):
    """The items in order, each once (a weight shared by two layers counts once, as in Keras)."""
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _shape_tuple(shape, owner):
    """(32,) from 32 or (32,); every dimension a positive int."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        where = owner.name if isinstance(owner, Layer) else owner
        raise ValueError(f"'{where}': a shape must be positive ints without the batch dimension, e.g. (32, 32, 3); "
                         f"got {shape!r}")
    return shape


# -- inputs --------------------------------------------------------------------------------------
class InputLayer(Layer):
    """The layer behind :func:`Input`: no weights; its one node produces the model's input tensor."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None):
        if input_shape is None:
            raise ValueError("InputLayer needs input_shape, the shape of one sample, e.g. (32, 32, 3)")
        super().__init__(name=name if name is not None else unique_name("input", zero_based=False),
                         dtype=dtype or backend.DEFAULT_DTYPE)
        if self.dtype.kind != "f":
            raise ValueError(f"Input '{self.name}': dtype must be floating point (float32 or float64), got {self.dtype}")
        if batch_size is not None:
            batch_size = _shape_tuple((batch_size,), self)[0]
        shape = (batch_size,) + _shape_tuple(input_shape, self)
        Node(self, None, KerasTensor(shape, self.dtype))
        self.output = self._nodes[0].output
        self.built = True

    def __call__(self, x, training=None):
        raise TypeError(f"InputLayer '{self.name}' is not called; use its output, minigan.Input(shape=...)")


def Input(shape=None, batch_size=None, name=None, dtype=None):
    """The symbolic input of a functional model: ``Input(shape=(32,))`` has shape (None, 32).

    >>> import minigan
    >>> minigan.Input(shape=(32, 32, 3)).shape
    (None, 32, 32, 3)
    """
    return InputLayer(input_shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
