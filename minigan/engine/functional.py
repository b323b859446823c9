"""A functional model's graph: which layer calls lie between its input and its output, and running them.

``Model(x, y)`` walks back from ``y`` through the Nodes that layer calls recorded (``node.py``) until
it reaches ``x``. The graph may branch and join again -- Inception's four towers read one tensor and a
``Concatenate`` joins them -- so the walk collects a set of nodes, and sorting them by creation number
gives an order that runs every layer after the layers it reads from (a topological order).

Running the graph keeps each intermediate result only until its last reader has run: Inception-v3 on
a batch of 299x299 images makes ~100 tensors of up to 10 MB per image, and keeping them all would
multiply the memory a batch needs by ten.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = minigan.Input(shape=(4,))
>>> a, b = layers.Dense(2)(x), layers.Dense(3)(x)
>>> y = layers.Concatenate()([a, b])
>>> [node.layer.name for node in trace(x, y, "m")]
['dense', 'dense_1', 'concatenate']
"""


def trace(input, output, name):
    """The Nodes that lead from the KerasTensor ``input`` to ``output``, in a valid order to run them.

    Raises a ValueError naming the model ``name`` when ``output`` depends on another Input.
    """
    nodes, pending, seen = [], [output], set()
    while pending:
        tensor = pending.pop()
        if tensor is input or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        node = tensor.node
        if node is None or not node.inputs:  # reached some other Input: disconnected
            where = "" if node is None else f" (they come from input '{node.layer.name}')"
            raise ValueError(f"Model '{name}': the outputs do not depend on the given input "
                             f"'{input.node.layer.name}'{where}; graph disconnected")
        nodes.append(node)
        pending.extend(node.inputs)
    return sorted(nodes, key=lambda node: node.index)


def release_plan(nodes, output):
    """For each node, the ids of the tensors nobody reads after it (they can be dropped then)."""
    last_reader = {}
    for i, node in enumerate(nodes):
        for tensor in node.inputs:
            last_reader[id(tensor)] = i
    plan = [[] for _ in nodes]
    for key, i in last_reader.items():
        if key != id(output):
            plan[i].append(key)
    return plan


def run(nodes, plan, input, output, x, training):
    """Replay the recorded calls on the Tensor ``x`` (fed to ``input``); the value of ``output``."""
    values = {id(input): x}
    for node, done in zip(nodes, plan):
        args = [values[id(tensor)] for tensor in node.inputs]
        values[id(node.output)] = node.layer.call(args if node.layer.takes_list else args[0], training=training)
        for key in done:
            del values[key]
    return values[id(output)]
