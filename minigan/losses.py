"""Losses by name for ``compile(loss=...)``, and the one Keras 2 subtlety about sigmoid outputs.

``binary_crossentropy(y_true, y_pred)`` on probabilities clips them to [1e-7, 1 - 1e-7] (Keras'
epsilon), so log never sees 0. But when a model's output *is* a sigmoid (``Dense(1,
activation='sigmoid')``), tf.keras's compiled training and evaluation step looks through the sigmoid
and computes the loss from its input z -- the logits -- as ``sigmoid_cross_entropy_with_logits``:

    bce(y, z) = max(z, 0) - z y + log(1 + e^-|z|)        gradient: sigmoid(z) - y

The two agree while p stays inside the clip range; they differ when D is very sure (|z| > ~16):
there the clipped loss is flat (zero gradient) while the logits loss keeps its gradient.
:func:`compiled_loss` reproduces this: layers with a sigmoid mark their output with
``_keras_logits`` (as tf.keras does), and ``train_on_batch``/``evaluate`` use it.

>>> import minigan
>>> from minigan import losses
>>> y = minigan.tensor([[1.0]])
>>> p = minigan.tensor([[1.0]])          # a saturated prediction: clipped to 1 - 1e-7
>>> round(losses.binary_crossentropy(y, p).item(), 6)
0.0
>>> losses.get("mse") is losses.mean_squared_error
True
"""

from . import arguments
from . import functional as F


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Mean of -[y log p + (1 - y) log(1 - p)] (p clipped to [eps, 1 - eps]); ``from_logits``: y_pred is z."""
    return F.binary_crossentropy(y_true, y_pred, from_logits=from_logits)


def mean_squared_error(y_true, y_pred):
    """Mean of (y_pred - y_true)^2 over all elements."""
    difference = F.sub(y_pred, y_true)
    return F.mean(difference * difference)


LOSSES = {"binary_crossentropy": binary_crossentropy,
          "mean_squared_error": mean_squared_error, "mse": mean_squared_error}


def get(identifier):
    """The loss called ``identifier``, or ``identifier`` itself if it is a function (y_true, y_pred) -> Tensor."""
    return arguments.lookup(LOSSES, identifier, "loss", "or a function (y_true, y_pred) -> scalar Tensor")


def compiled_loss(loss, y_true, y_pred):
    """The loss as Keras 2's compiled train/evaluate step computes it: binary cross-entropy on the output
    of a sigmoid uses the sigmoid's logits (``sigmoid_cross_entropy_with_logits``); anything else is
    ``loss(y_true, y_pred)`` as written."""
    logits = getattr(y_pred, "_keras_logits", None)
    if loss is binary_crossentropy and logits is not None:
        return F.binary_crossentropy(y_true, logits, from_logits=True)
    return loss(y_true, y_pred)
