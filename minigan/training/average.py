"""A running average of a model's weights, to sample from: less noisy pictures from a GAN's generator.

A GAN's generator never settles: each step moves it to beat the discriminator of the moment, so its
pictures change colour and texture from save to save. The *average* of its recent weights (Polyak
averaging; for GANs: Yazici et al. 2019, "The unusual effectiveness of averaging in GAN training")
draws steadier, cleaner pictures, and costs one multiply-add per weight per step. Training is not
touched: the generator keeps learning with its own weights; only sampling uses the average.

After every step, for every weight w (t = updates so far, counted from 0):

    d_t     = min(decay, (1 + t) / (10 + t))        warm-up: the average follows the weights closely at first
    average = d_t * average + (1 - d_t) * w         (the first update, d_0 = 0.1, is mostly w itself)

With the warm-up the average spans roughly the last tenth of the steps until (1 + t) / (10 + t) reaches
``decay`` (t ~ 9,000 for 0.999), then the last ~1 / (1 - decay) steps. The same rule as TensorFlow's
``ExponentialMovingAverage(decay, num_updates=t)``.

The averages are kept by weight name (like the optimizers' state), so a checkpoint can hold them
(``get_state`` / ``set_state``). ``predict`` samples with the averaged weights: it swaps them into the
model, predicts, and swaps the model's own weights back.

>>> import minigan
>>> from minigan import layers
>>> layers.clear_session()
>>> model = minigan.models.Sequential([layers.Input(shape=(1,)), layers.Dense(1, use_bias=False)])
>>> model.set_weights([minigan.backend.numpy.zeros((1, 1))])
>>> average = WeightAverage(model, decay=0.5)          # starts at the weights of now: 0
>>> for value in (2.0, 4.0):
...     model.set_weights([minigan.backend.numpy.array([[value]])])
...     average.update()                              # d_0 = 0.1, then min(0.5, 2 / 11)
>>> round(float(average.predict([[1.0]])[0, 0]), 4)   # 0.1 * 0 + 0.9 * 2 = 1.8; then 0.1818 * 1.8 + 0.8182 * 4
3.6
>>> float(model.predict([[1.0]])[0, 0])               # the model's own weights are untouched
4.0
"""

import contextlib

from .. import backend
from .callbacks import Callback


class WeightAverage(Callback):
    """The exponential moving average of ``model``'s weights; see the module docstring for the rule.

    As a Trainer callback it updates after every step (``on_batch_end``), before the step's pictures.
    """

    def __init__(self, model, decay=0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"WeightAverage of '{model.name}': decay must be in [0, 1), got {decay!r}")
        self.model, self.decay, self.updates = model, float(decay), 0
        # Start from the model's weights as they are now (the first update weighs them 0.1)
        self.averages = {w.name: w.data.copy() for w in model.weights}

    def update(self):
        """Move the average towards the model's current weights (call after every training step)."""
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for weight in self.model.weights:
            average = self.averages[weight.name]
            average *= d                              # d * average + (1 - d) * w, in place
            average += (1.0 - d) * weight.data
        self.updates += 1

    def on_batch_end(self, step, logs):
        self.update()

    @contextlib.contextmanager
    def applied(self):
        """Inside this block the model holds the averaged weights; its own come back afterwards."""
        own = {w.name: w.data.copy() for w in self.model.weights}
        try:
            for weight in self.model.weights:
                weight.data[...] = self.averages[weight.name]
            yield self.model
        finally:
            for weight in self.model.weights:
                weight.data[...] = own[weight.name]

    def predict(self, x, batch_size=32, verbose=0):
        """``model.predict`` with the averaged weights: what to draw pictures and scores from."""
        with self.applied():
            return self.model.predict(x, batch_size=batch_size, verbose=verbose)

    def get_state(self):
        """``{"updates": int, weight name: host array}``: everything needed to continue the average."""
        return {"updates": self.updates, **{name: backend.to_numpy(a).copy() for name, a in self.averages.items()}}

    def set_state(self, state, where="the average's state"):
        """Restore ``get_state()``'s output; ``where`` names the source in the error for a foreign state."""
        expected = {name: a.shape for name, a in self.averages.items()}
        found = {name: tuple(state[name].shape) for name in expected if name in state}
        if found != expected or "updates" not in state:
            missing = sorted(set(expected) - set(found)) or (["updates"] if "updates" not in state else [])
            wrong = [f"{n}: {found[n]} (expected {expected[n]})" for n in found if found[n] != expected[n]]
            raise ValueError(f"{where} does not fit the weights of '{self.model.name}': "
                             f"missing {missing[:3]}, wrong shapes {wrong[:3]}")
        self.updates = int(state["updates"])
        for name, average in self.averages.items():
            average[...] = backend.asarray(state[name], dtype=average.dtype)
