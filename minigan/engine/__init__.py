"""The engine under the layers and models (Keras 2 keeps the same parts in ``keras/engine``).

    node.py         KerasTensor (a shape without values) and Node (one recorded layer call)
    base_layer.py   the Layer base class: weights (trainable and not), names, build, __call__
    input_layer.py  Input and InputLayer, where a functional model starts
    functional.py   a model's graph: the calls between its input and output, in order, and running them

``layers/`` builds on ``Layer``; ``models.py`` on all four.
"""

from .base_layer import Layer, clear_session, reset_names, snake_case, unique_name
from .input_layer import Input, InputLayer
from .node import KerasTensor, Node, format_shape
