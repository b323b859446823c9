"""Functional models whose graph branches and joins (Inception's towers): order, values, gradients,
memory release, shared layers, nesting, the 4-column summary and errors."""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import layers
from minigan.engine import functional


def branching_model():
    """x -> (Dense a, Dense b on x, Dense c on a) -> concatenate [a, b, c] -> Dense 1."""
    x = minigan.Input(shape=(4,), dtype="float64")
    a = layers.Dense(3, activation="tanh", name="a")(x)
    b = layers.Dense(2, name="b")(x)
    c = layers.Dense(2, name="c")(a)
    y = layers.Dense(1, name="out")(layers.Concatenate(name="join")([a, b, c]))
    return minigan.Model(x, y, name="branches")


def by_hand(model, x):
    """The same computation with functional ops, straight from the weights."""
    w = {layer.name: layer for layer in model.layers}
    a = F.tanh(F.dense(x, w["a"].kernel, w["a"].bias))
    b = F.dense(x, w["b"].kernel, w["b"].bias)
    c = F.dense(a, w["c"].kernel, w["c"].bias)
    return F.dense(F.concatenate([a, b, c], axis=-1), w["out"].kernel, w["out"].bias)


def test_layers_in_creation_order_and_values_match_the_functional_ops(fresh_names):
    model = branching_model()
    assert [layer.name for layer in model.layers] == ["input_1", "a", "b", "c", "join", "out"]
    x = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_allclose(model.predict(x), by_hand(model, minigan.tensor(x, dtype="float64")).data,
                               rtol=1e-14)


def test_train_on_batch_gradients_reach_every_branch(fresh_names):
    model = branching_model()
    model.compile(optimizer=minigan.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = np.random.default_rng(1).normal(size=(6, 4)), np.random.default_rng(2).normal(size=(6, 1))
    before = [w.numpy().copy() for w in model.weights]
    weights = [minigan.tensor(w, dtype="float64", requires_grad=True) for w in before]
    for tensor, weight in zip(weights, model.weights):  # the reference: autograd over the hand-made graph
        layer = model.get_layer(weight.name.split("/")[0])
        setattr(layer, weight.name.split("/")[1], tensor)
    loss = F.mean((by_hand(model, minigan.tensor(x, dtype="float64")) - minigan.tensor(y, dtype="float64")) ** 2)
    loss.backward()
    expected = [b - 0.1 * t.grad.data for b, t in zip(before, weights)]
    for tensor, weight in zip(weights, model.weights):  # put the model's own weights back
        layer = model.get_layer(weight.name.split("/")[0])
        setattr(layer, weight.name.split("/")[1], weight)
    assert model.train_on_batch(x, y) == pytest.approx(float(loss.data), rel=1e-14)
    for e, w in zip(expected, model.weights):
        np.testing.assert_allclose(w.data, e, rtol=1e-13, err_msg=w.name)


def test_each_result_is_dropped_after_its_last_reader(fresh_names):
    model = branching_model()
    plan = functional.release_plan(model._nodes_in_order, model.output)
    names = {id(node.output): node.layer.name for node in model._nodes_in_order}
    names[id(model.input)] = "input"
    dropped = [sorted(names[key] for key in keys) for keys in plan]
    # nodes a, b, c, join, out: b is the last to read x; join the last to read a, b and c
    assert dropped == [[], ["input"], [], ["a", "b", "c"], ["join"]]


def test_shared_layer_and_nested_model_in_a_branch(fresh_names):
    inner_in = minigan.Input(shape=(3,))
    inner = minigan.Model(inner_in, layers.Dense(3, name="inner_dense")(inner_in), name="inner")
    x = minigan.Input(shape=(3,))
    shared = layers.Dense(3, name="shared")
    left, right = shared(x), inner(shared(x))  # one layer called twice, and a model in one branch
    model = minigan.Model(x, layers.Concatenate()([left, right]))
    assert model.count_params() == 12 + 12
    data = np.random.default_rng(3).normal(size=(2, 3)).astype("float32")
    expected = np.concatenate([shared(data).numpy(), inner.predict(shared(data).numpy())], axis=-1)
    np.testing.assert_allclose(model.predict(data), expected, rtol=1e-6)


def test_summary_of_a_branching_model_has_the_connected_to_column(fresh_names):
    x = minigan.Input(shape=(4,))
    a, b = layers.Dense(2)(x), layers.Dense(3)(x)
    model = minigan.Model(x, layers.Dense(1)(layers.Concatenate()([a, b])))
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[2].rstrip() == "Layer (type)                    Output Shape         Param #     Connected to"
    assert len(lines[1]) == 98  # Keras' width for this table
    body = [line.rstrip() for line in lines if line and line[0] not in "_="]
    assert body[2:7] == [
        "input_1 (InputLayer)            [(None, 4)]          0",
        "dense (Dense)                   (None, 2)            10          input_1[0][0]",
        "dense_1 (Dense)                 (None, 3)            15          input_1[0][0]",
        "concatenate (Concatenate)       (None, 5)            0           dense[0][0]",
        "                                                                 dense_1[0][0]",
    ]


def test_an_output_from_another_input_is_disconnected(fresh_names):
    x, other = minigan.Input(shape=(2,)), minigan.Input(shape=(2,))
    joined = layers.Concatenate()([layers.Dense(2)(x), layers.Dense(2)(other)])
    with pytest.raises(ValueError, match="do not depend on the given input 'input_1' .*input_2.*disconnected"):
        minigan.Model(x, joined)
