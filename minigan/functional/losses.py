"""Binary cross-entropy, built from differentiable ops (so it needs no hand-written backward).

For a target y and a predicted probability p, per element:

    bce(y, p) = -[ y log(p) + (1 - y) log(1 - p) ]

Keras 2 (TensorFlow 2.x) clips p to [eps, 1 - eps] with eps = 1e-7 and takes log(p + eps),
averages over the last axis, then over the batch. Targets above 1 (the book's label noise
``labels += 0.05 * random``) are accepted as they are, as in Keras.

From logits z (p = sigmoid(z)) the same loss is computed without ever forming p:

    bce(y, z) = max(z, 0) - z y + log(1 + e^-|z|)

which is exact for every z and has gradient sigmoid(z) - y (no vanishing when D saturates).

>>> import minigan, minigan.functional as F
>>> y = minigan.tensor([[1.0], [0.0]])
>>> p = minigan.tensor([[0.9], [0.2]])
>>> round(F.binary_crossentropy(y, p).item(), 4)   # -(log 0.9 + log 0.8) / 2
0.1643
"""

from ..tensor import as_tensor
from .arithmetic import clip, exp, log, maximum, mean, require_float

EPSILON = 1e-7  # keras.backend.epsilon()


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Mean binary cross-entropy over all elements (Keras 2: mean over the last axis, then the batch)."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, like=(y_pred,))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"binary_crossentropy: targets have shape {y_true.shape}, predictions {y_pred.shape}; "
                         "they must match (e.g. labels of shape (N, 1) for a Dense(1) output)")
    require_float("binary_crossentropy", y_pred.data)
    if y_true.dtype != y_pred.dtype:
        y_true = y_true.astype(y_pred.dtype)
    if from_logits:
        z = y_pred
        per_element = maximum(z, 0.0) - z * y_true + log(1 + exp(-maximum(z, -z)))
    else:
        p = clip(y_pred, EPSILON, 1.0 - EPSILON)
        per_element = -(y_true * log(p + EPSILON) + (1 - y_true) * log(1 - p + EPSILON))
    return mean(per_element)
