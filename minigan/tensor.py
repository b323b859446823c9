"""Tensor and Function: a define-by-run autograd engine in one page.

Every operation is a small :class:`Function` with a ``forward`` (arrays in, arrays out)
and a ``backward`` (gradients of the outputs in, gradients of the inputs out) written
side by side. Calling a Function on Tensors runs ``forward`` and, unless gradients are
off, links the result to the Function that made it (``tensor.creator``). That chain of
links *is* the graph: it is recorded while your Python code runs, so ``if`` and ``for``
just work.

``y.backward()`` walks the graph from ``y`` back to the leaves in reverse topological
order. Each Function gets a *generation* one higher than its newest input, so a heap
that always pops the newest Function visits every Function after all the Functions
that consumed its outputs -- without recursion, so a chain of 10,000 ops is fine.

>>> import minigan
>>> x = minigan.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()          # y = sum x^2, dy/dx = 2x
>>> y.backward()
>>> x.grad.data.tolist()
[2.0, 4.0, 6.0]

Gradients *accumulate* into leaves: a second ``backward()`` adds to ``.grad``
(as PyTorch does). Call ``x.cleargrad()`` (alias ``zero_grad``) to reset.
"""

import contextlib
import heapq
import itertools
import weakref

from . import backend

# ----------------------------------------------------------------------------------------------
# Recording on/off. Gradients need the graph; inference does not. This is the one switch kept
# as module state (like torch.no_grad); whether a model is *training* (dropout on) is never
# global: it is passed explicitly as ``training=True``.
# ----------------------------------------------------------------------------------------------
_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Run a block without recording the graph (inference, optimizer updates).

    >>> import minigan
    >>> w = minigan.tensor([1.0], requires_grad=True)
    >>> with minigan.no_grad():
    ...     y = w * 2
    >>> y.creator is None
    True
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Record the graph inside this block even where an outer ``no_grad`` turned it off."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    return _grad_enabled


class Tensor:
    """An array (NumPy or CuPy) plus what autograd needs: ``grad``, ``creator``, ``requires_grad``.

    Operators ``+ - * / @ **`` and unary ``-`` build the graph; so do ``reshape``, ``transpose``,
    ``sum``, ``mean``, ``exp``, ``log``, ``maximum`` and ``clip`` (installed by ``functional/arithmetic.py``).
    Python numbers mix freely and take the tensor's dtype, so float32 stays float32.
    """

    __array_priority__ = 200  # make ndarray + Tensor call Tensor.__radd__

    def __init__(self, data, requires_grad=False, name=None):
        xp = backend.get_array_module(data)
        if not isinstance(data, xp.ndarray):
            raise TypeError(f"Tensor wraps a numpy or cupy array, got {type(data).__name__}; "
                            "use minigan.tensor(...) to convert lists and numbers")
        self.data = data
        self.grad = None
        self.creator = None
        self.generation = 0
        self.requires_grad = requires_grad
        self.name = name

    # -- array facts --------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(backend.to_numpy(self.data)).replace("\n", "\n       ")
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    def numpy(self):
        """A host NumPy copy of the values (no copy on the NumPy backend)."""
        return backend.to_numpy(self.data)

    def item(self):
        return self.data.item()

    # -- autograd -----------------------------------------------------------------------------
    def set_creator(self, function):
        self.creator = function
        self.generation = function.generation + 1
        self.requires_grad = True

    def cleargrad(self):
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    zero_grad = cleargrad

    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the upstream gradient; it defaults to ones (so for a scalar loss,
        ``loss.backward()`` gives dloss/dleaf). Intermediate tensors drop their ``.grad`` once
        used unless ``retain_grad=True``. With ``create_graph=True`` the backward pass is itself
        recorded, for gradients of gradients (only ops whose backward is written in
        differentiable ops support that).
        """
        if grad is None:
            xp = backend.get_array_module(self.data)
            grad = Tensor(xp.ones_like(self.data))
        elif not isinstance(grad, Tensor):
            grad = Tensor(grad)
        if grad.shape != self.shape:
            raise ValueError(f"backward: grad has shape {grad.shape}, expected the tensor's shape {self.shape}")
        if self.creator is None:  # backward() on a leaf: accumulate like any leaf
            self.grad = grad if self.grad is None else self.grad + grad
            return
        self.grad = grad  # the seed of this pass (not accumulated: a second pass starts afresh)

        pending, seen, order = [], set(), itertools.count()

        def schedule(function):  # a heap keyed on -generation pops the newest Function first
            if function not in seen:
                seen.add(function)
                heapq.heappush(pending, (-function.generation, next(order), function))

        schedule(self.creator)
        with (enable_grad() if create_graph else no_grad()):
            while pending:
                function = heapq.heappop(pending)[2]
                outputs = [ref() for ref in function.outputs]
                grads_out = [None if out is None else out.grad for out in outputs]
                grads_in = function.backward(*grads_out)
                if not isinstance(grads_in, tuple):
                    grads_in = (grads_in,)
                for tensor, g in zip(function.inputs, grads_in):
                    if g is None or not tensor.requires_grad:
                        continue
                    if g.shape != tensor.shape:  # a bug in an op: say which one
                        raise RuntimeError(f"{type(function).__name__}.backward returned a gradient of shape "
                                           f"{g.shape} for an input of shape {tensor.shape}")
                    tensor.grad = g if tensor.grad is None else tensor.grad + g
                    if tensor.creator is not None:
                        schedule(tensor.creator)
                if not retain_grad:
                    for out in outputs:
                        if out is not None:
                            out.grad = None

    # Operators (+ - * / @ **, unary -, [], reshape, transpose, .T, sum, mean, exp, log, maximum, clip,
    # astype) are each a Function of minigan/functional/arithmetic.py, which installs them on this class
    # when it is imported (as DeZero's setup_variable does): this file needs nothing of the ops, and the
    # ops need Tensor, so the import goes one way only.


class Function:
    """One differentiable operation. Subclasses write ``forward(*arrays)`` and ``backward(*grads)``.

    ``forward`` receives the raw arrays of the input Tensors (plus keyword options) and returns an
    array or a tuple of arrays. ``backward`` receives one gradient Tensor per output (None for an
    output nobody used) and returns one gradient Tensor per input (None for "no gradient").
    Whatever backward needs, forward keeps on ``self`` (the inputs are in ``self.inputs``).
    """

    def __call__(self, *inputs, **options):
        inputs = [as_tensor(x, like=inputs) for x in inputs]
        arrays = [x.data for x in inputs]
        xp = backend.get_array_module(*arrays)  # raises a clear BackendError on a numpy/cupy mix
        outputs = self.forward(*arrays, **options)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        # NumPy reductions return scalars (numpy.float32); keep everything an ndarray.
        outputs = [Tensor(y if isinstance(y, xp.ndarray) else xp.asarray(y)) for y in outputs]
        if _grad_enabled and any(x.requires_grad for x in inputs):
            self.generation = max(x.generation for x in inputs)
            self.inputs = inputs
            for y in outputs:
                y.set_creator(self)
            # Outputs are held weakly: the graph lives only as long as someone holds its result.
            self.outputs = [weakref.ref(y) for y in outputs]
        return outputs[0] if len(outputs) == 1 else outputs

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} has no backward")


def tensor(data, dtype=None, requires_grad=False, name=None):
    """A Tensor on the active backend from lists, numbers, NumPy or CuPy arrays (float32 by default).

    >>> import minigan
    >>> minigan.tensor([[1, 2]], dtype="float64").dtype
    dtype('float64')
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(backend.asarray(data, dtype=dtype), requires_grad=requires_grad, name=name)


def as_tensor(x, like=()):
    """``x`` itself if it is a Tensor; a Python number becomes a constant of its partners' dtype."""
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "__array_namespace__") or backend.is_cupy_array(x):
        if getattr(x, "ndim", 0) > 0:
            return Tensor(x)  # an array: wrap it as it is; Function checks the backends match
    partner = next((t for t in like if isinstance(t, Tensor)), None)
    if partner is not None:  # a Python or NumPy scalar takes its partner's backend and dtype
        xp = backend.get_array_module(partner.data)
        return Tensor(xp.asarray(x, dtype=partner.dtype))
    return tensor(x)

