"""minigan.layers: the Keras 2 layers, one file per family (as ``keras.layers``).

    core.py            Dense, Activation, LeakyReLU, ReLU, Dropout, Reshape, Flatten
    convolutional.py   Conv2D, Conv2DTranspose, UpSampling2D
    pooling.py         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D
    merging.py         Concatenate (and ``concatenate``), the join of branches
    normalization.py   BatchNormalization
    augmentation.py    DiffAugment (random colour, translation, cutout that gradients flow through)

Each layer owns its weights and calls one op of ``minigan/functional``. The base class, symbolic tensors
and :func:`Input` live in ``minigan/engine``; they are re-exported here because Keras users write
``layers.Input``.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(16, 16, 128))
>>> layers.LeakyReLU(alpha=0.2)(layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x)).shape
(None, 32, 32, 256)
"""

from ..engine import Input, InputLayer, KerasTensor, Layer, clear_session, reset_names
from .augmentation import DiffAugment
from .convolutional import Conv2D, Conv2DTranspose, UpSampling2D
from .core import Activation, Dense, Dropout, Flatten, LeakyReLU, ReLU, Reshape
from .merging import Concatenate, concatenate
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D

__all__ = ["Input", "InputLayer", "Layer", "KerasTensor", "reset_names", "clear_session",
           "Dense", "Activation", "LeakyReLU", "ReLU", "Dropout", "Reshape", "Flatten",
           "Conv2D", "Conv2DTranspose", "UpSampling2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Concatenate", "concatenate",
           "BatchNormalization", "DiffAugment"]
