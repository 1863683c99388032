"""AvgPool2d with stride == kernel_size reshapes x into (N, C, H // KH, KH, W // KW, KW) tiles
without cropping first: right when H and W are multiples of the kernel, an error when rows or
columns are left over (H' = (H - KH) // stride + 1 drops them)."""
# file: conv.py
# affects: cnn.avgpool.forward, cnn.avgpool.backward
# status: error
# clause: pool-geometry

_avgpool_forward = AvgPool2d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    KH, KW = _pair(self.kernel_size)
    if _pair(self.stride if self.stride is not None else (KH, KW)) == (KH, KW):
        N, C, H, W = x.shape
        x.reshape(N, C, H // KH, KH, W // KW, KW)  # the tiles (raises when rows or columns are left over)
    return _avgpool_forward(self, x, params, train=train, rng=rng, state=state)


AvgPool2d.forward = _forward
