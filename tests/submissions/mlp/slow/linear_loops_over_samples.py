"""Linear written with Python loops over samples (forward and backward): correct, and slower than one x @ W (the issue-19 review timed the initialisation study at 37.5 s with such a Linear). The contract asks for no speed here, so every item keeps full marks."""
# file: layers.py
# affects:


def _forward_loops(self, x, params, *, train=False, rng=None, state=None):
    W, b = params["W"], params["b"]
    y = np.empty((x.shape[0], W.shape[1]), dtype=np.result_type(x, W))
    for n in range(x.shape[0]):
        y[n] = x[n] @ W + b
    return y, (x, W)


def _backward_loops(self, dy, cache):
    x, W = cache
    dx = np.empty((dy.shape[0], W.shape[0]), dtype=np.result_type(dy, W))
    dW = np.zeros(W.shape, dtype=np.result_type(x, dy))
    for n in range(dy.shape[0]):
        dx[n] = W @ dy[n]
        dW += np.outer(x[n], dy[n])
    return dx, {"W": dW, "b": dy.sum(axis=0)}


Linear.forward = _forward_loops
Linear.backward = _backward_loops
