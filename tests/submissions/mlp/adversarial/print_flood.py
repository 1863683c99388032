"""ELU.forward prints 1 GB of text (1024 lines of 1 MiB) before returning."""
# file: layers.py
# affects: mlp.elu.forward, mlp.elu.backward
# status: error

_elu_forward = ELU.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    line = "spam" * (1 << 18)
    for _ in range(1024):
        print(line)
    return _elu_forward(self, x, params, train=train, rng=rng, state=state)


ELU.forward = _forward
