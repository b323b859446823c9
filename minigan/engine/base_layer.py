"""The Layer base class: weights, names, building, and calling on symbolic tensors or on data.

Calling a layer on a :class:`KerasTensor` computes nothing. It *builds* the layer (creates its
weights, now that the input shape is known), records a :class:`Node` (``node.py``) and returns a new
KerasTensor with the output shape. The batch dimension is ``None``: any batch size fits. Calling the
same layer on real data (a NumPy or CuPy array, or a minigan Tensor) runs ``call`` and returns a
Tensor; the weights are the same ones.

A layer's weights are *trainable* (a kernel, a bias: the optimizer changes them) or *non-trainable*
(BatchNormalization's moving statistics: the layer updates them itself). Keras lists them in that
order -- ``weights == trainable_weights + non_trainable_weights`` -- and ``summary()`` counts them apart.

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

from .. import arguments, backend, initializers
from ..backend import numpy as host_numpy
from ..functional import astype
from ..tensor import Tensor
from .node import KerasTensor, Node

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
        try:
            self.dtype = None if dtype is None else host_numpy.dtype(dtype)  # None: take the input's dtype
        except TypeError:
            raise ValueError(f"{type(self).__name__} '{self.name}': dtype must be a NumPy dtype such as 'float32', "
                             f"got {dtype!r}") from None
        self.built = False
        self._own_weights = []  # in creation order: kernel, then bias (Keras' order)
        self._fixed = set()     # ids of the weights made with trainable=False (moving statistics)
        self._nodes = []        # every symbolic call of this layer
        # Keras lets the first layer of a Sequential declare its input: Dense(8, input_shape=(4,)).
        self._batch_input_shape = None if input_shape is None else (None,) + _shape_tuple(input_shape, self)

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}' built={self.built}>"

    # -- weights -----------------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="glorot_uniform", trainable=True):
        """Create a weight named ``<layer name>/<name>`` (e.g. ``dense/kernel``) on the active backend.

        ``trainable=False`` makes a weight that no optimizer touches (a moving statistic): it is listed
        in ``non_trainable_weights`` whatever the layer's ``trainable`` flag says.
        """
        dtype = self.dtype or backend.DEFAULT_DTYPE
        arguments.check_size(shape, host_numpy.dtype(dtype).itemsize, f"weight '{self.name}/{name}'",
                             f"{type(self).__name__} '{self.name}'")  # Dense(10**12): an error, not a swap storm
        data = initializers.get(initializer)(tuple(shape), dtype=dtype)
        weight = Tensor(backend.asarray(data, dtype=dtype), requires_grad=self._trainable and trainable,
                        name=f"{self.name}/{name}")
        self._own_weights.append(weight)
        if not trainable:
            self._fixed.add(id(weight))
        return weight

    def _is_trainable_kind(self, weight):
        return id(weight) not in self._fixed

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for weight in self._own_weights:  # outside train_on_batch, autograd follows the flag
            weight.requires_grad = self._trainable and self._is_trainable_kind(weight)

    @property
    def trainable_weights(self):
        return [w for w in self._own_weights if self._is_trainable_kind(w)] if self._trainable else []

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return list(self._own_weights)
        return [w for w in self._own_weights if not self._is_trainable_kind(w)]

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
        """Replace the values of :attr:`weights` (same order and shapes as :meth:`get_weights`).

        Every array is checked before any is copied: on an error the layer keeps all its old values.
        """
        kind = type(self).__name__
        if not isinstance(arrays, (list, tuple)):
            raise TypeError(f"{kind} '{self.name}'.set_weights expects a list of arrays (as get_weights gives), "
                            f"got {type(arrays).__name__}")
        weights, arrays = self.weights, [_as_weight_array(a, f"{kind} '{self.name}'.set_weights") for a in arrays]
        if len(arrays) != len(weights):
            raise ValueError(f"{kind} '{self.name}' has {len(weights)} weights "
                             f"({[w.name for w in weights]}), but set_weights got {len(arrays)} arrays")
        for weight, array in zip(weights, arrays):
            if tuple(array.shape) != weight.shape:
                raise ValueError(f"{kind} '{self.name}': weight '{weight.name}' has shape {weight.shape}, "
                                 f"but set_weights got an array of shape {tuple(array.shape)}")
        _assign(weights, arrays, f"{kind} '{self.name}'.set_weights: ")

    # -- state by name: what checkpoints and weights files hold ------------------------------------------
    def get_state(self):
        """``{weight name: host array}`` of every weight (trainable or not), e.g. ``{"dense/kernel": ...}``.

        Keyed by name, not position: Keras lists a frozen model's weights in another order than a trainable
        one's, so positions change with ``trainable``; names do not. Copies, never views.
        """
        return {w.name: host_numpy.array(backend.to_numpy(w.data)) for w in _unique(self.all_weights())}

    def set_state(self, state, where=None):
        """Put the arrays of ``state`` (as from :meth:`get_state`) into the weights of the same names.

        All or nothing: every name and shape is checked first, so on an error no weight has changed. The
        error names ``where`` (a file, say), the layer and the first weight that does not fit.
        """
        where = f"{where}: " if where else ""
        kind = type(self).__name__
        weights = _unique(self.all_weights())
        missing = [w.name for w in weights if w.name not in state]
        if missing:
            raise ValueError(f"{where}no values for {len(missing)} weights of {kind} '{self.name}', first "
                             f"'{missing[0]}' (it holds {sorted(state)[:3]}...); saved from another architecture?")
        arrays = [_as_weight_array(state[w.name], f"{where}weight '{w.name}'") for w in weights]
        for w, array in zip(weights, arrays):
            if array.shape != w.shape:
                raise ValueError(f"{where}weight '{w.name}' of {kind} '{self.name}' has shape {w.shape}, but the "
                                 f"saved array has shape {array.shape} (another architecture?); nothing was loaded")
        _assign(weights, arrays, f"{where}")

    # -- shapes and calls ----------------------------------------------------------------------------
    takes_list = False  # True for a merge layer, called on a list of tensors (Concatenate)

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch first, possibly None). Default: none.

        For a layer that takes a list, ``input_shape`` is the list of its inputs' shapes.
        """

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
        """The input shape of this layer's symbolic calls (a list of shapes for a merge layer)."""
        shapes = {tuple(t.shape for t in node.inputs) for node in self._nodes if node.inputs}
        if len(shapes) != 1:
            raise AttributeError(f"layer '{self.name}' has "
                                 + ("never been called" if not shapes else "several input shapes: 'multiple'"))
        shape = shapes.pop()
        return list(shape) if self.takes_list else shape[0]

    def _build_once(self, input_shape, dtype):
        if self.dtype is None:
            self.dtype = host_numpy.dtype(dtype) if host_numpy.dtype(dtype).kind == "f" else \
                host_numpy.dtype(backend.DEFAULT_DTYPE)
        if not self.built:
            self.compute_output_shape(input_shape)  # a bad input fails here with the layer's own message
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, training=None):
        """On KerasTensors: record the call, return a KerasTensor. On data: compute, return a Tensor.

        A merge layer takes a list (of KerasTensors, or of arrays/Tensors); every other layer one input.
        """
        items = self._input_list(inputs)
        if all(isinstance(t, KerasTensor) for t in items):
            shapes = [t.shape for t in items]
            shape = shapes if self.takes_list else shapes[0]
            self._build_once(shape, items[0].dtype)
            output = KerasTensor(self._checked_output_shape(shape), self.dtype)
            Node(self, items, output)
            return output
        if any(isinstance(t, KerasTensor) for t in items):
            raise TypeError(f"{type(self).__name__} '{self.name}': its inputs mix symbolic tensors (from Input) "
                            f"and data; pass all of one kind")
        tensors = [self._to_tensor(t) for t in items]
        shapes = [(None,) + t.shape[1:] for t in tensors]
        self._build_once(shapes if self.takes_list else shapes[0], tensors[0].dtype)
        actual = [t.shape for t in tensors]
        self._checked_output_shape(actual if self.takes_list else actual[0])  # the layer's own error names it
        return self.call(tensors if self.takes_list else tensors[0], training=bool(training))

    def _checked_output_shape(self, input_shape):
        """compute_output_shape, and an error before an output of more than MAX_ARRAY_BYTES is made (a
        symbolic output per sample: UpSampling2D(10**6) fails when the model is built, not when it runs)."""
        shape = self.compute_output_shape(input_shape)
        what = "one sample's output" if None in shape else "an output"
        arguments.check_size([1 if n is None else n for n in shape], host_numpy.dtype(self.dtype).itemsize, what,
                             f"{type(self).__name__} '{self.name}'")
        return shape

    def _input_list(self, inputs):
        """The inputs as a list, checked against what this layer takes (one input, or a list)."""
        kind = type(self).__name__
        if self.takes_list:
            if not isinstance(inputs, (list, tuple)) or not inputs:
                raise TypeError(f"{kind} '{self.name}' takes a non-empty list of inputs, got "
                                f"{type(inputs).__name__}")
            return list(inputs)
        if isinstance(inputs, (list, tuple)):
            raise TypeError(f"{kind} '{self.name}' takes one input (a KerasTensor, an array or a Tensor), got a "
                            f"{type(inputs).__name__}; only merge layers such as Concatenate take a list")
        return [inputs]

    def _to_tensor(self, x):
        """Arrays become Tensors of this layer's dtype (Keras casts inputs to the layer's dtype too)."""
        dtype = self.dtype or backend.DEFAULT_DTYPE
        if isinstance(x, Tensor):
            return x if x.dtype == dtype or not self.built else astype(x, dtype)
        return Tensor(as_batch(x, dtype, f"{type(self).__name__} '{self.name}'"))


def as_batch(x, dtype, owner, what="inputs"):
    """``x`` (an array, nested lists) as a backend array of ``dtype`` with a batch axis: numbers only, and
    none beyond what ``dtype`` holds (float64 1e39 would become inf in float32, silently)."""
    given = x
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        try:
            x = host_numpy.asarray(x)
        except ValueError as error:  # ragged lists
            raise ValueError(f"{owner} needs {what} as an array of numbers, got a {type(x).__name__} "
                             f"({error})") from None
    if getattr(x, "ndim", 0) < 1:
        raise ValueError(f"{owner} needs a batch of {what} (an array with a batch axis first), got {given!r}")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{owner} needs {what} of real numbers, got an array of dtype {x.dtype} (shape {x.shape})")
    target = host_numpy.dtype(dtype)
    if isinstance(x, host_numpy.ndarray) and x.dtype.kind == "f" and x.dtype.itemsize > target.itemsize:
        with host_numpy.errstate(over="ignore"):
            cast = x.astype(target)  # on the host, where the check costs no GPU sync
        overflow = host_numpy.isinf(cast) & ~host_numpy.isinf(x)
        if overflow.any():
            raise ValueError(f"{owner}: its {what} hold {x[overflow].flat[0]:g}, beyond {target}'s largest value "
                             f"{host_numpy.finfo(target).max:g} (it would become inf)")
        x = cast
    return backend.asarray(x, dtype=dtype)


def _as_weight_array(value, where):
    """A host or device array of real numbers for a weight (an array, nested lists), or a clear error."""
    array = value if hasattr(value, "shape") and hasattr(value, "dtype") else host_numpy.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{where} holds {array.dtype} values, not real numbers; no weight was changed")
    return array


def _assign(weights, arrays, where):
    """Copy ``arrays`` into ``weights``, all or nothing: every one is cast (and checked finite there) before
    the first is written, so a bad last array leaves every weight as it was."""
    cast = [backend.asarray(array, dtype=w.dtype) for w, array in zip(weights, arrays)]
    for w, array in zip(weights, cast):
        xp = backend.get_array_module(array)
        if not bool(xp.isfinite(array).all()):
            raise ValueError(f"{where}weight '{w.name}' would hold NaN or inf (beyond {w.dtype}'s range?); "
                             f"no weight was changed")
    for w, array in zip(weights, cast):
        w.data[...] = array


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
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)  # 32, or a wrong kind the check names
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        where = owner.name if isinstance(owner, Layer) else owner
        raise ValueError(f"'{where}': a shape must be positive ints without the batch dimension, e.g. (32, 32, 3); "
                         f"got {shape!r}")
    return shape


