"""Symbolic tensors and nodes: how a functional model remembers which layer was called on what.

A Keras model is written in two phases, and so is a minigan one:

    x = Input(shape=(32,))          # a KerasTensor: shape (None, 32), a dtype, no numbers at all
    y = Dense(4)(x)                 # builds Dense's weights from (None, 32); y.shape == (None, 4)
    model = Model(x, y)             # walks back from y to x and keeps the calls in order

Calling a layer on KerasTensors computes nothing: it records a :class:`Node` -- "this layer was called
on these tensors and produced that one" -- and returns a new KerasTensor with the output shape. A
merge layer (``Concatenate``) is called on a *list* of tensors, so a node has a list of inputs; every
other layer has exactly one. The nodes, linked through their tensors, form a directed acyclic graph
from the model's Input to its output (``functional.py`` walks it).

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(3,))
>>> y = layers.Dense(2)(x)
>>> y.node.layer.name, [t.node.layer.name for t in y.node.inputs]
('dense', ['input_1'])
"""

import itertools

from ..backend import numpy as host_numpy

_created = itertools.count()  # every Node gets the next number: creation order is a valid run order


def format_shape(shape):
    """(None, 32) as Keras prints it."""
    return str(tuple(shape))


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
    """One call of ``layer`` on the symbolic tensors ``inputs`` (a list; empty for an Input), giving ``output``.

    ``index`` counts nodes in the order they were made. A node is always made after the nodes that
    produced its inputs, so sorting by ``index`` runs every layer after the layers it depends on.
    """

    def __init__(self, layer, inputs, output):
        self.layer, self.inputs, self.output = layer, list(inputs), output
        self.index = next(_created)
        output.node = self
        layer._nodes.append(self)

    @property
    def input(self):
        """The one input of a single-input layer's call (None for an Input's node)."""
        return self.inputs[0] if self.inputs else None

    def __repr__(self):
        sources = ", ".join(t.node.layer.name for t in self.inputs)
        return f"<Node {self.layer.name}({sources}) -> {self.output.shape}>"
