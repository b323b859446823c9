"""Optimizers with Keras 2 semantics: RMSprop, Adam, SGD; state kept by weight name, so it checkpoints.

One step, for every weight p with gradient g (all in place, on the backend's arrays, in float32):

    1. clipnorm:   g = g * c / max(||g||, c)        each gradient tensor rescaled to norm <= c  (c > 0 only:
    2. clipvalue:  g = clip(g, -c, c)               every element into [-c, c]     0 is off, as in Keras 2)
    3. lr_t = lr / (1 + decay * iterations)         Keras 2's time decay; iterations counted *before* this step
    4. the rule of the optimizer (below), then iterations += 1

    RMSprop  acc = rho acc + (1 - rho) g^2          p -= lr_t g / (sqrt(acc) + eps)     (eps outside the sqrt)
    Adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
             p -= lr_t sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)                 (t = iterations + 1)
    SGD      v = momentum v - lr_t g;  p += v       (nesterov: p += momentum v - lr_t g)

The state -- ``iterations`` and one or two arrays ("slots") per weight -- is keyed by the weight's name
(``"dense/kernel"``), never by ``id()``, so :meth:`Optimizer.get_state` / :meth:`Optimizer.set_state`
survive a restart. The fraction of gradient elements that clipvalue clipped in the last step is kept on
the device (:attr:`Optimizer.last_clipped_fraction` reads it as a float: the only sync it costs).

>>> import minigan
>>> from minigan import optimizers
>>> w = minigan.tensor([1.0, -2.0], name="w")
>>> opt = optimizers.RMSprop(lr=0.1, clipvalue=1.0)        # the book's spelling, lr=
>>> opt.apply_gradients([(minigan.tensor([0.5, 4.0]), w)])
>>> [round(v, 4) for v in w.data.tolist()]                   # one step moves by ~ lr / sqrt(1 - rho)
[0.6838, -2.3162]
>>> opt.last_clipped_fraction, sorted(opt.get_state())
(0.5, ['iterations', 'w/rms'])
"""

import math

from . import arguments, backend
from .backend import numpy as host_numpy
from .tensor import Tensor


class Optimizer:
    """Base class: gradient clipping, learning-rate decay, named state. Subclasses write ``_update``."""

    slot_names = ()  # the per-weight arrays this optimizer keeps, e.g. ("rms",)

    def __init__(self, learning_rate, decay=0.0, clipvalue=None, clipnorm=None, lr=None, name=None):
        if lr is not None:  # Keras 2 still accepted the old name, and the book uses it
            learning_rate = lr
        self.name = name if name is not None else type(self).__name__
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.learning_rate = learning_rate  # checked by the property below
        self.decay = self._hyper("decay", decay, 0)
        # Keras 2 clips only when clipvalue > 0 (clipnorm > 0): 0, like None, means no clipping.
        self.clipvalue = None if clipvalue is None else self._hyper("clipvalue", clipvalue, 0)
        self.clipnorm = None if clipnorm is None else self._hyper("clipnorm", clipnorm, 0)
        self.iterations = 0     # a host int: reading it never waits for the GPU
        self._slots = {}        # weight name -> {slot name -> array}, in the order weights were first seen
        self._clipped = None    # device scalar: fraction of elements clipvalue clipped in the last step

    def _hyper(self, label, value, low=-math.inf, high=math.inf, **ends):
        """A hyper-parameter checked: a finite number in its range that float32 holds (it meets the weights)."""
        return arguments.number(value, label, type(self).__name__, low, high, **ends)

    learning_rate = property(lambda self: self._learning_rate, lambda self, value: setattr(
        self, "_learning_rate", self._hyper("learning_rate", value, 0)))  # checked when set later, too
    lr = property(lambda self: self.learning_rate, lambda self, value: setattr(self, "learning_rate", value))

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate} iterations={self.iterations}>"

    # -- state -----------------------------------------------------------------------------------
    def build(self, weights):
        """Create the (zero) slots of ``weights`` now, so that get_state/set_state see them before a step."""
        for weight in weights:
            self._slots_of(weight)

    def _slots_of(self, weight):
        name = getattr(weight, "name", None)
        if not name:
            raise ValueError(f"{self.name}: optimizer state is kept by weight name, and a weight of shape "
                             f"{weight.shape} has no name; create weights with Layer.add_weight or tensor(name=...)")
        slots = self._slots.get(name)
        if slots is None:
            xp = backend.get_array_module(weight.data)
            slots = self._slots[name] = {slot: xp.zeros_like(weight.data) for slot in self.slot_names}
        for slot, array in slots.items():
            if array.shape != weight.shape:
                raise ValueError(f"{self.name}: the '{slot}' state of weight '{name}' has shape {array.shape}, but the "
                                 f"weight has shape {weight.shape} (two different weights with one name?)")
        return slots

    def get_state(self):
        """``{"iterations": int64 array, "<weight name>/<slot>": float array, ...}``: host NumPy copies."""
        state = {"iterations": host_numpy.array(self.iterations, dtype=host_numpy.int64)}
        for name, slots in self._slots.items():
            for slot, array in slots.items():
                state[f"{name}/{slot}"] = host_numpy.array(backend.to_numpy(array))  # a copy, never a view
        return state

    def set_state(self, state):
        """Restore :meth:`get_state`'s output exactly. Checked first, so a bad state changes nothing."""
        state = dict(state)
        if "iterations" not in state:
            raise ValueError(f"{self.name}.set_state: the state has no 'iterations' entry (keys: {sorted(state)[:5]}...)")
        iterations = host_numpy.asarray(state["iterations"])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise ValueError(f"{self.name}.set_state: 'iterations' must be one int >= 0, got {iterations.dtype} "
                             f"{iterations.tolist() if iterations.size < 5 else iterations.shape}")
        slots = {}
        for key, array in state.items():
            if key == "iterations":
                continue
            name, _, slot = key.rpartition("/")
            if not name or slot not in self.slot_names:
                raise ValueError(f"{self.name}.set_state: unexpected entry {key!r}; {self.name} keeps "
                                 f"{list(self.slot_names)} per weight, keyed '<weight name>/<slot>'")
            array = host_numpy.asarray(backend.to_numpy(array))
            if array.dtype.kind != "f":
                raise ValueError(f"{self.name}.set_state: {key!r} holds {array.dtype} values, not floating point")
            if not host_numpy.isfinite(array).all():
                raise ValueError(f"{self.name}.set_state: {key!r} holds NaN or inf")
            slots.setdefault(name, {})[slot] = array
        for name, d in slots.items():
            missing = [s for s in self.slot_names if s not in d]
            if missing:
                raise ValueError(f"{self.name}.set_state: weight '{name}' lacks its {missing} state")
        if self._slots:  # built for some weights: the state must be for exactly those, with their shapes
            expected = {f"{n}/{s}": a.shape for n, d in self._slots.items() for s, a in d.items()}
            given = {k: tuple(v.shape) for k, v in state.items() if k != "iterations"}
            for key in expected:
                if key not in given:
                    raise ValueError(f"{self.name}.set_state: the state lacks {key!r}")
                if given[key] != expected[key]:
                    raise ValueError(f"{self.name}.set_state: {key!r} has shape {given[key]} in the state but "
                                     f"{expected[key]} here")
            extra = sorted(set(given) - set(expected))
            if extra:
                raise ValueError(f"{self.name}.set_state: the state has entries for weights this optimizer does "
                                 f"not update, first {extra[0]!r}")
        xp = backend.array_module()
        self._slots = {name: {slot: xp.array(backend.asarray(d[slot], dtype=d[slot].dtype), copy=True)
                              for slot in self.slot_names} for name, d in slots.items()}
        self.iterations = int(iterations)

    # -- one step --------------------------------------------------------------------------------
    def _clip(self, gradient, xp):
        """Steps 1 and 2 above; returns the clipped gradient and how many elements clipvalue changed."""
        if self.clipnorm:  # tf.clip_by_norm: t * c / max(||t||, c), on the device (0 or None: off, as Keras 2)
            norm = xp.sqrt((gradient * gradient).sum())
            gradient = gradient * (gradient.dtype.type(self.clipnorm) / xp.maximum(norm, self.clipnorm))
        if not self.clipvalue:
            return gradient, 0
        c = self.clipvalue
        return xp.clip(gradient, -c, c), (xp.abs(gradient) > c).sum()

    def apply_gradients(self, grads_and_vars):
        """One step for every (gradient, weight) pair (Keras' spelling); weights change in place."""
        pairs = [(g.data if isinstance(g, Tensor) else g, w) for g, w in grads_and_vars]
        lr_t = self._learning_rate_at(self.iterations)
        clipped, total = 0, 0
        for gradient, weight in pairs:
            xp = backend.get_array_module(weight.data, gradient)
            if gradient.shape != weight.shape:
                raise ValueError(f"{self.name}: the gradient of '{weight.name}' has shape {gradient.shape}, "
                                 f"the weight {weight.shape}")
            gradient, count = self._clip(gradient.astype(weight.dtype, copy=False), xp)
            clipped, total = clipped + count, total + gradient.size
            self._update(weight.data, gradient, self._slots_of(weight), lr_t, xp)
        xp = backend.get_array_module(*[w.data for _, w in pairs]) if pairs else backend.array_module()
        self._clipped = xp.asarray(clipped / max(total, 1), dtype=xp.float32)  # a 0-d device array: no sync
        self.iterations += 1

    def _update(self, p, g, slots, lr_t, xp):
        raise NotImplementedError

    @property
    def last_clipped_fraction(self):
        """Fraction of gradient elements that clipvalue clipped in the last step (0.0 without clipvalue,
        None before the first step). Reading it converts the device scalar to a float (a GPU sync)."""
        return None if self._clipped is None else float(self._clipped)

    @property
    def last_learning_rate(self):
        """lr_t of the last step (3 above): lr / (1 + decay * (iterations - 1)); None before the first step.

        >>> opt = RMSprop(lr=0.001, decay=1.0)
        >>> opt.last_learning_rate is None, [opt.apply_gradients([]) or opt.last_learning_rate for _ in range(2)]
        (True, [0.001, 0.0005])
        """
        return None if self.iterations == 0 else self._learning_rate_at(self.iterations - 1)

    def _learning_rate_at(self, iterations):
        """Step 3 above: Keras 2's time decay after ``iterations`` earlier steps."""
        return self.learning_rate / (1.0 + self.decay * iterations)

    @property
    def last_clipped_fraction_device(self):
        """The same fraction as a 0-d device array (float32), for code that wants to avoid the sync."""
        return self._clipped


class RMSprop(Optimizer):
    """Keras 2 RMSprop (no momentum, not centered): divide the step by a running RMS of the gradient.

    Defaults as Keras 2: learning_rate 0.001, rho 0.9, epsilon 1e-7 (added *outside* the square root).
    """

    slot_names = ("rms",)

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, decay=0.0, clipvalue=None, clipnorm=None,
                 lr=None, name=None):
        super().__init__(learning_rate, decay, clipvalue, clipnorm, lr, name)
        self.rho = self._hyper("rho", rho, 0, 1, high_open=True)
        self.epsilon = self._hyper("epsilon", epsilon, 0, low_open=True)

    def _update(self, p, g, slots, lr_t, xp):
        acc = slots["rms"]
        acc *= self.rho
        acc += (1.0 - self.rho) * (g * g)              # acc = rho acc + (1 - rho) g^2
        p -= lr_t * g / (xp.sqrt(acc) + self.epsilon)  # p -= lr_t g / (sqrt(acc) + eps)


class Adam(Optimizer):
    """Keras 2 Adam: bias correction folded into the step size lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)."""

    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0, clipvalue=None,
                 clipnorm=None, lr=None, name=None):
        super().__init__(learning_rate, decay, clipvalue, clipnorm, lr, name)
        self.beta_1 = self._hyper("beta_1", beta_1, 0, 1, high_open=True)  # 1 would divide by 1 - 1 = 0
        self.beta_2 = self._hyper("beta_2", beta_2, 0, 1, high_open=True)  # 1 would never move a weight
        self.epsilon = self._hyper("epsilon", epsilon, 0, low_open=True)   # 0 gives 0 / 0 for a zero gradient

    def _update(self, p, g, slots, lr_t, xp):
        t = self.iterations + 1
        step = lr_t * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        m, v = slots["m"], slots["v"]
        m *= self.beta_1
        m += (1.0 - self.beta_1) * g                   # first moment
        v *= self.beta_2
        v += (1.0 - self.beta_2) * (g * g)             # second moment
        p -= step * m / (xp.sqrt(v) + self.epsilon)


class SGD(Optimizer):
    """Gradient descent, with Keras 2's optional (Nesterov) momentum: v = momentum v - lr g; p += v."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0, clipvalue=None, clipnorm=None,
                 lr=None, name=None):
        super().__init__(learning_rate, decay, clipvalue, clipnorm, lr, name)
        self.momentum = self._hyper("momentum", momentum, 0, 1)  # Keras 2's range
        self.nesterov = arguments.flag(nesterov, "nesterov", "SGD")
        self.slot_names = ("momentum",) if self.momentum > 0 else ()

    def _update(self, p, g, slots, lr_t, xp):
        if not self.slot_names:
            p -= lr_t * g
            return
        v = slots["momentum"]
        v *= self.momentum
        v -= lr_t * g
        if self.nesterov:
            p += self.momentum * v - lr_t * g
        else:
            p += v


OPTIMIZERS = {"rmsprop": RMSprop, "adam": Adam, "sgd": SGD}


def get(identifier):
    """An optimizer by name ('rmsprop', 'adam', 'sgd': Keras' defaults) or the instance itself."""
    if isinstance(identifier, Optimizer):
        return identifier
    key = identifier.lower() if isinstance(identifier, str) else None  # a list, a class: not a name
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {identifier!r}; expected one of {sorted(OPTIMIZERS)} "
                         "or an instance such as minigan.optimizers.RMSprop(lr=0.0008)")
    return OPTIMIZERS[key]()
