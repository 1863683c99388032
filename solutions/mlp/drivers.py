"""Worker drivers of the mlp assignment (a course's own drivers: docs/authoring.md): the lectures'
optimizer race and XOR.

Loaded by the trusted parent for the reference run and, inside the sandbox, by the worker that
grades a submission (`grader.sandbox.course_drivers`): NumPy and `grader.sandbox.drivers` only.
"""
import numpy as np

from grader.sandbox.drivers import driver, xp_of

# --------------------------------------------------------------------------- the optimizer race
ROSENBROCK_B = 100.0  # f = (1 - x)^2 + b (y - x^2)^2: a narrow curved valley, minimum at (1, 1)


def rosenbrock(p):
    """Rosenbrock's valley: value and gradient at p (2,)."""
    x, y = p
    r = y - x * x
    return (1 - x) ** 2 + ROSENBROCK_B * r * r, np.array([-2 * (1 - x) - 4 * ROSENBROCK_B * x * r, 2 * ROSENBROCK_B * r])


def saddle(p):
    """f = x^2 + y^4 / 4 - y^2 / 2: a saddle point at (0, 0) between minima at (0, -1) and (0, 1)."""
    x, y = p
    return x * x + y ** 4 / 4 - y * y / 2, np.array([2 * x, y ** 3 - y])


SURFACES = {"rosenbrock": rosenbrock, "saddle": saddle}


def network_data(seed, n=64, hidden=16):
    """A small regression (t = sin(3 x) on n points of [-1, 1]) and the start of a 1-`hidden`-1
    tanh network: x (n, 1), t (n, 1), params {W1 (1, H), b1 (H,), W2 (H, 1), b2 (1,)}."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, n).reshape(n, 1)
    params = {"W1": rng.standard_normal((1, hidden)) * 1.5, "b1": rng.standard_normal(hidden) * 0.5,
              "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden), "b2": np.zeros(1)}
    return x, np.sin(3 * x), params


def network(params, x, t):
    """Mean squared error of the tanh network on (x, t) and its gradient (computed here, not by the
    student's layers: the race grades the optimizers alone)."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    y = h @ params["W2"] + params["b2"]
    d = (y - t) / len(x)
    dh = (d @ params["W2"].T) * (1 - h * h)
    grads = {"W1": 2 * x.T @ dh, "b1": 2 * dh.sum(axis=0), "W2": 2 * h.T @ d, "b2": 2 * d.sum(axis=0)}
    return float(((y - t) ** 2).mean()), grads


NOT_IMPLEMENTED, RAISED = 1, 2  # `failed/<optimizer>` codes: raised NotImplementedError, raised something else


@driver
def race(resolve, spec, inputs):
    """The lectures' race: every optimizer of `spec["racers"]` ([name, {surface: kwargs}]) from the
    same start on each surface of `spec["surfaces"]` ({surface: {"start": [x, y] | "steps"}}; the
    surface "network" starts from `network_data(spec["seed"])`), `steps` steps each.

    Outputs per optimizer o and surface s: `path/<o>/<s>` (steps + 1, 2) on a 2-D surface, the
    points visited from the start; `loss/<o>/<s>` (steps + 1,), the value at each of them;
    `failed/<o>`, 0 or the code of what the optimizer raised (NOT_IMPLEMENTED, RAISED) with its
    first line in `show/error/<o>` (bytes, for feedback only). A run stops where a point is not
    finite (the rest of its path is NaN). When every optimizer raises NotImplementedError, so does
    the race: nothing of it is written yet."""
    out = {"path": {}, "loss": {}, "failed": {}, "show": {"error": {}}}
    for name, settings in spec["racers"]:
        out["path"][name], out["loss"][name] = {}, {}
        try:
            for surface, setup in spec["surfaces"].items():
                path, loss = _run(resolve(spec["module"], name)(**settings[surface]), surface, setup, spec["seed"])
                if path is not None:
                    out["path"][name][surface] = path
                out["loss"][name][surface] = loss
            out["failed"][name] = np.int64(0)
        except Exception as exc:  # one optimizer's error costs its share only (SystemExit still stops the item)
            _failed(out, name, exc)
            out["path"].pop(name), out["loss"].pop(name)
    return _unless_none_written(out, "none of the optimizers is implemented yet")


def _failed(out, run, exc):
    """Record what `run` raised: `failed/<run>` (its code) and `show/error/<run>` (its first 300
    characters, for feedback only)."""
    out["failed"][run] = np.int64(NOT_IMPLEMENTED if isinstance(exc, NotImplementedError) else RAISED)
    out["show"]["error"][run] = np.frombuffer(f"{type(exc).__name__}: {exc}"[:300].encode(), np.uint8)


def _unless_none_written(out, message):
    """`out`, or NotImplementedError when every run raised it (the stub: the item is not attempted)."""
    if all(int(code) == NOT_IMPLEMENTED for code in out["failed"].values()):
        raise NotImplementedError(message)
    return out


def _run(opt, surface, setup, seed):
    """(path or None, loss) of `opt` on one surface."""
    steps = int(setup["steps"])
    if surface == "network":
        x, t, params = network_data(seed)
        value = lambda p: network(p, x, t)  # noqa: E731
    else:
        params = {"p": np.array(setup["start"], dtype=np.float64)}
        value = lambda p: (lambda f, g: (f, {"p": g}))(*SURFACES[surface](p["p"]))  # noqa: E731
    with np.errstate(all="ignore"):  # a diverging path ends where it is no longer finite
        return _steps(opt, params, value, steps, surface)


def _steps(opt, params, value, steps, surface):
    state = opt.init_state(params)
    path = np.full((steps + 1, 2), np.nan)
    loss = np.full(steps + 1, np.nan)
    for k in range(steps + 1):
        if "p" in params:
            path[k] = np.asarray(params["p"], dtype=np.float64).reshape(2)
        f, grads = value(params)
        loss[k] = f
        if k == steps or not np.isfinite(f):
            break
        params, state = opt.step(params, grads, state)
        if set(params) != set(grads) or any(np.shape(params[n]) != np.shape(grads[n]) for n in grads):
            raise ValueError(f"step returned parameters {sorted(params)} with other names or shapes than "
                             f"those given ({sorted(grads)})")
    return (path if surface != "network" else None), loss


# --------------------------------------------------------------------------- XOR
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def xor_cloud(seed, n, noise=0.2):
    """n points scattered around XOR's four corners (Gaussian noise of std `noise`), labelled by
    their corner: x (n, 2), t (n, 1)."""
    rng = np.random.default_rng(seed)
    corner = rng.integers(0, 4, n)
    return XOR_X[corner] + noise * rng.standard_normal((n, 2)), XOR_Y[corner]


@driver
def xor(resolve, spec, inputs):
    """The lectures' XOR: logistic regression (the student's Linear(2, 1)) and a two-layer network
    (Linear(2, H), Tanh, Linear(H, 1)), each trained with the student's BCEWithLogitsLoss by full-batch
    gradient descent (p <- p - lr * grad, done here) from a start drawn from `spec["seed"]` (logistic
    regression: W = (2, 1), b = -1, far from where it ends).

    Runs: "linear" and "network" on the four XOR points, "cloud" (the network) on a noisy XOR cloud.
    Outputs per run r: `loss/<r>` (steps + 1,); `logits/<r>` on its training points and, for the
    cloud, `test_logits` on held-out points with their labels `test_labels`; `show/grid/<r>`,
    the logits over `inputs["grid"]` (for the figure); `failed/<r>` and `show/error/<r>` as for
    `race`. When every run raises NotImplementedError, so does this driver."""
    layers, losses = spec["modules"]
    hidden, steps, lr = int(spec["hidden"]), int(spec["steps"]), float(spec["lr"])
    xp = xp_of(inputs["grid"])  # the device the grid was sent to (CuPy under --device cuda): every array goes there
    cloud_x, cloud_t = (xp.asarray(a) for a in xor_cloud(spec["seed"] + 1, spec["cloud"]))
    test_x, test_t = (xp.asarray(a) for a in xor_cloud(spec["seed"] + 2, spec["cloud"]))
    runs = {"linear": ([("Linear", {"in_features": 2, "out_features": 1})], xp.asarray(XOR_X), xp.asarray(XOR_Y)),
            "network": (_two_layer(hidden), xp.asarray(XOR_X), xp.asarray(XOR_Y)),
            "cloud": (_two_layer(hidden), cloud_x, cloud_t)}
    out = {"loss": {}, "logits": {}, "failed": {}, "show": {"grid": {}, "error": {}}, "test_labels": test_t}
    for r, (arch, x, t) in runs.items():
        try:
            model = [resolve(layers, name)(**kwargs) for name, kwargs in arch]
            params = _start(arch, np.random.default_rng(spec["seed"])) if r != "linear" else \
                [{"W": np.array([[2.0], [1.0]]), "b": np.array([-1.0])}]  # far from W = 0, b = 0 (loss 0.86)
            params = [{n: xp.asarray(p) for n, p in layer.items()} for layer in params]
            loss_fn = resolve(losses, "BCEWithLogitsLoss")()
            curve = np.full(steps + 1, np.nan)
            for k in range(steps + 1):
                scores, caches = _forward(model, params, x)
                value, cache = loss_fn.forward(scores, t)
                curve[k] = float(value)
                if k == steps or not np.isfinite(curve[k]):
                    break
                dy = loss_fn.backward(cache)
                for i in reversed(range(len(model))):
                    dy, grads = model[i].backward(dy, caches[i])
                    params[i] = {n: p - lr * _same_shape(xp, grads[n], p, n) for n, p in params[i].items()}
            out["loss"][r], out["logits"][r] = curve, _forward(model, params, x)[0]
            out["show"]["grid"][r] = _forward(model, params, inputs["grid"])[0]
            if r == "cloud":
                out["test_logits"] = _forward(model, params, test_x)[0]
            out["failed"][r] = np.int64(0)
        except Exception as exc:  # a run that raises fails its own check (SystemExit still stops the item)
            _failed(out, r, exc)
    return _unless_none_written(out, "the layers XOR trains are not implemented yet")


def _same_shape(xp, grad, param, name):
    grad = xp.asarray(grad)
    if grad.shape != param.shape:
        raise ValueError(f"the gradient of {name} has shape {grad.shape}, its parameter {param.shape}")
    return grad


def _two_layer(hidden):
    return [("Linear", {"in_features": 2, "out_features": hidden}), ("Tanh", {}),
            ("Linear", {"in_features": hidden, "out_features": 1})]


def _start(arch, rng):
    """Xavier-normal W and zero b for each Linear, {} for the others (not the student's init)."""
    return [{"W": rng.standard_normal((kw["in_features"], kw["out_features"])) *
             np.sqrt(2.0 / (kw["in_features"] + kw["out_features"])), "b": np.zeros(kw["out_features"])}
            if name == "Linear" else {} for name, kw in arch]


def _forward(model, params, x):
    caches = []
    for layer, p in zip(model, params):
        x, cache = layer.forward(x, p, train=True)
        caches.append(cache)
    return x, caches
