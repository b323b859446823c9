"""The autograd engine: recording, walking backward, accumulation, no_grad, errors."""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import Function, Tensor, no_grad, tensor


def test_backward_of_a_small_graph_by_hand():
    # y = (a * b + a)^2 ; dy/da = 2(ab + a)(b + 1), dy/db = 2(ab + a) a
    a = tensor([2.0], dtype="float64", requires_grad=True)
    b = tensor([3.0], dtype="float64", requires_grad=True)
    y = (a * b + a) ** 2
    y.backward()
    assert a.grad.data.tolist() == [2 * 8 * 4]
    assert b.grad.data.tolist() == [2 * 8 * 2]


def test_a_tensor_used_twice_gets_both_gradients_before_its_creator_runs():
    x = tensor([3.0], dtype="float64", requires_grad=True)
    h = x * x            # used by two branches: its grad must be complete before Mul.backward runs
    y = h * 2 + h * 3    # y = 5 x^2, dy/dx = 10 x
    y.backward()
    assert x.grad.data.tolist() == [30.0]


def test_a_chain_of_10000_ops_needs_no_recursion():
    x = tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.data.tolist() == [1.0]


def test_second_backward_accumulates_and_cleargrad_resets():
    # Documented semantics: the graph is kept while its output lives; backward() again adds to .grad.
    x = tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    assert x.grad.data.tolist() == [4.0, 8.0]  # 2 * (2x)
    x.cleargrad()
    assert x.grad is None
    y.backward()
    assert x.grad.data.tolist() == [2.0, 4.0]
    x.zero_grad()  # alias
    assert x.grad is None


def test_intermediate_grads_are_freed_unless_retained():
    x = tensor([1.0], requires_grad=True)
    h = x * 2
    y = h * 3
    y.backward()
    assert h.grad is None
    y2 = (x * 2) * 3
    h2 = y2.creator.inputs[0]
    y2.backward(retain_grad=True)
    assert h2.grad.data.tolist() == [3.0]


def test_no_grad_records_nothing_and_leaves_get_no_grad():
    w = tensor([1.0], requires_grad=True)
    with no_grad():
        y = w * 3
    assert y.creator is None and not y.requires_grad
    assert minigan.is_grad_enabled()


def test_constants_get_no_grad_and_python_numbers_keep_dtype():
    x = tensor([1.0, 2.0], requires_grad=True)
    c = tensor([5.0, 5.0])
    y = (x * c + 1.5).sum()
    y.backward()
    assert c.grad is None
    assert (x * 2.5).dtype == np.float32


def test_backward_checks_the_upstream_gradient_shape():
    x = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected the tensor's shape \(2,\)"):
        (x * 2).backward(np.ones(3, dtype=np.float32))


def test_an_op_returning_a_wrong_shaped_gradient_is_named():
    class Broken(Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy.sum()  # wrong: a scalar for a vector input

    x = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Broken.backward returned a gradient of shape"):
        Broken()(x).backward()


def test_create_graph_gives_second_derivatives():
    x = tensor([2.0], dtype="float64", requires_grad=True)
    y = x ** 3                        # dy/dx = 3x^2 = 12, d2y/dx2 = 6x = 12
    y.backward(create_graph=True)
    gx = x.grad
    assert gx.data.tolist() == [12.0]
    x.cleargrad()
    gx.backward()
    assert x.grad.data.tolist() == [12.0]


def test_tensor_requires_an_array():
    with pytest.raises(TypeError, match="minigan.tensor"):
        Tensor([1, 2])


def test_integer_inputs_to_float_ops_are_refused_by_name():
    images = tensor(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="leaky_relu needs floating-point inputs.*uint8"):
        F.leaky_relu(images)
    with pytest.raises(TypeError, match="dense needs floating-point"):
        F.dense(images, tensor(np.ones((3, 1))))


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"dense: input of shape \(2, 3\) does not fit kernel \(4, 1\)"):
        F.dense(tensor(np.ones((2, 3))), tensor(np.ones((4, 1))))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an array of shape \(2, 3\)"):
        F.reshape(tensor(np.ones((2, 3))), (4, 2))
    with pytest.raises(ValueError, match=r"binary_crossentropy: targets have shape \(2,\)"):
        F.binary_crossentropy(tensor([1.0, 0.0]), tensor([[0.5], [0.5]]))
