"""Check an op's backward against central differences -- the test every op must pass.

For a function f of several tensors, pick a random upstream gradient u (the shape of
f's output) and look at the scalar L = sum(u * f(x1, x2, ...)). Backward gives
dL/dx_k for every input; finite differences give the same numbers independently:

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        error O(eps^2)

Three comparisons, in float64 (float32 has too few digits for eps ~ 1e-6):
  1. for small inputs *and* outputs, the full Jacobian d f / d x (one backward per output element);
  2. else, for small inputs, every element of dL/dx separately (the worst one is reported);
  3. always, a random *direction* v per input: (L(x + eps v) - L(x - eps v)) / 2eps vs <dL/dx, v>
     -- one pair of evaluations checks every element at once, whatever the size.

>>> import minigan
>>> x = minigan.tensor([[0.5, -1.0], [2.0, 3.0]], dtype="float64", requires_grad=True)
>>> minigan.gradcheck(lambda x: (x * x).sum(axis=1), x)
True
"""

from . import backend
from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """backward disagrees with finite differences; the message names the input and the worst element."""


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-7, rtol=1e-6, elementwise_limit=512, jacobian_outputs=64,
              seed=0):
    """Return True if ``fn``'s analytic gradients match central differences; else raise GradcheckError.

    Every Tensor in ``inputs`` with ``requires_grad=True`` is checked (not only the first). Inputs
    must be float64. ``fn`` must be deterministic (seed dropout inside ``fn`` if it uses it).
    """
    xp = backend.get_array_module(*[t.data for t in inputs if isinstance(t, Tensor)])
    rng = backend.numpy.random.default_rng(seed)
    checked = [(k, t) for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    for k, t in checked:
        if t.dtype != xp.float64:
            raise TypeError(f"gradcheck: input {k} has dtype {t.dtype}; use float64 (float32 cannot resolve "
                            "central differences with eps ~ 1e-6)")

    def label(k):
        name = f" {inputs[k].name!r}" if inputs[k].name else ""
        return f"input {k}{name} of shape {inputs[k].shape}"

    def evaluate():
        with no_grad():
            return fn(*inputs).data

    out = evaluate()
    u = xp.asarray(rng.standard_normal(out.shape))

    def projected():  # L = sum(u * f(x)), a scalar
        return float((u * evaluate()).sum())

    # Analytic gradients of L with respect to every checked input.
    for _, t in checked:
        t.cleargrad()
    y = fn(*inputs)
    y.backward(Tensor(u.astype(y.dtype)))
    analytic = {}
    for k, t in checked:
        analytic[k] = xp.zeros_like(t.data) if t.grad is None else t.grad.data.copy()
        t.cleargrad()

    def central(t, step):  # (L(x + step) - L(x - step)) / 2, restoring x afterwards
        original = t.data.copy()
        t.data = original + step
        plus = projected()
        t.data = original - step
        minus = projected()
        t.data = original
        return (plus - minus) / 2.0

    def close(a, n):
        return abs(a - n) <= atol + rtol * max(abs(a), abs(n))

    close.atol, close.rtol = atol, rtol

    for k, t in checked:
        g = analytic[k]
        # 1. the full Jacobian, when small enough (it includes check 2)
        if 1 < out.size <= jacobian_outputs and t.size <= elementwise_limit:
            _check_jacobian(fn, inputs, k, t, out, eps, close, label, xp)
        # 2. every element of dL/dx, for small inputs: report the worst one
        elif t.size <= elementwise_limit:
            worst = None
            for i in range(t.size):
                index = backend.numpy.unravel_index(i, t.shape)
                step = xp.zeros(t.shape)
                step[index] = eps
                n_i = central(t, step) / eps
                a_i = float(g[index])
                error = abs(a_i - n_i) - (atol + rtol * max(abs(a_i), abs(n_i)))
                if error > 0 and (worst is None or error > worst[0]):
                    worst = (error, index, a_i, n_i)
            if worst is not None:
                _, index, a_i, n_i = worst
                raise GradcheckError(f"gradcheck failed for {label(k)}: worst element {tuple(map(int, index))}: "
                                     f"analytic {a_i:.10g}, numeric {n_i:.10g} (difference {a_i - n_i:.3g})")
        # 3. a random direction (unit length)
        v = xp.asarray(rng.standard_normal(t.shape))
        v /= float(xp.sqrt((v * v).sum())) or 1.0
        numeric = central(t, eps * v) / eps
        exact = float((g * v).sum())
        if not close(exact, numeric):
            raise GradcheckError(f"gradcheck failed for {label(k)}: along a random direction the analytic "
                                 f"derivative is {exact:.10g} but central differences give {numeric:.10g} "
                                 f"(difference {exact - numeric:.3g})")
    return True


def _check_jacobian(fn, inputs, k, t, out, eps, close, label, xp):
    """Compare the whole Jacobian J = d out / d x: analytic rows by one backward per output element,
    numeric columns by one central difference per input element."""
    numpy = backend.numpy
    analytic = []
    for j in range(out.size):
        onehot = xp.zeros(out.shape)
        onehot[numpy.unravel_index(j, out.shape)] = 1.0
        t.cleargrad()
        fn(*inputs).backward(Tensor(onehot))
        analytic.append(xp.zeros(t.size) if t.grad is None else t.grad.data.reshape(-1).copy())
        t.cleargrad()
    original = t.data
    worst = None
    for i in range(t.size):
        index = numpy.unravel_index(i, t.shape)
        columns = []
        for sign in (1.0, -1.0):
            t.data = original.copy()
            t.data[index] += sign * eps
            with no_grad():
                columns.append(fn(*inputs).data.reshape(-1))
        t.data = original
        numeric = (columns[0] - columns[1]) / (2 * eps)
        for j in range(out.size):
            exact, approx = float(analytic[j][i]), float(numeric[j])
            error = abs(exact - approx) - (close.atol + close.rtol * max(abs(exact), abs(approx)))
            if error > 0 and (worst is None or error > worst[0]):
                worst = (error, j, index, exact, approx)
    if worst is not None:
        _, j, index, exact, approx = worst
        raise GradcheckError(
            f"gradcheck failed for {label(k)}: worst Jacobian entry d out{tuple(map(int, numpy.unravel_index(j, out.shape)))}"
            f" / d x{tuple(map(int, index))}: analytic {exact:.10g}, numeric {approx:.10g} "
            f"(difference {exact - approx:.3g})")
