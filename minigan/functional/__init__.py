"""minigan.functional: every differentiable op, one file per family.

    arithmetic.py   + - * / @ ** exp log maximum clip reshape transpose sum mean (broadcasting)
    activations.py  leaky_relu relu sigmoid tanh dropout
    linear.py       dense
    conv.py         conv2d conv2d_transpose (im2col.py: the column matrix and its adjoint)
    upsampling.py   upsample2d (nearest neighbour)
    pooling.py      max_pool2d avg_pool2d global_avg_pool2d
    merging.py      concatenate
    normalization.py batch_normalization (training mode; its backward in closed form)
    losses.py       binary_crossentropy
    augment.py      diff_augment (DiffAugment: colour, translation, cutout; random from a Stream)
"""

from .activations import dropout, get_activation, leaky_relu, relu, sigmoid, tanh
from .augment import diff_augment
from .arithmetic import (add, astype, broadcast_to, clip, div, exp, flatten, log, matmul, maximum, mean, mul,
                         neg, power, reshape, sub, sum, sum_to, transpose)
from .conv import conv2d, conv2d_transpose
from .im2col import check_padding, check_pair, conv_output_length, conv_transpose_output_length, same_padding
from .linear import dense
from .losses import binary_crossentropy
from .merging import concatenate
from .normalization import batch_normalization
from .pooling import avg_pool2d, global_avg_pool2d, max_pool2d
from .upsampling import upsample2d
