"""reference/sentiment.py: text to ids, masked mean pooling (float64 central differences with a
random upstream gradient, PyTorch), the classifier's loss and gradients."""
import numpy as np
import pytest

from reference import sentiment as S

from .helpers import assert_close, numerical_grad

TEXTS = [
    ("Don't watch it!<br /><br />AWFUL, 0/10.", ["don't", "watch", "it", "awful", "0", "10"]),
    ("Café-noir is an 'art' film_maker's dream", ["café", "noir", "is", "an", "art", "film", "maker's", "dream"]),
    ("", []),
    ("<br />...", []),
    ("it's   a   MUST-see", ["it's", "a", "must", "see"]),
]


@pytest.mark.parametrize("text, tokens", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_tokenize(text, tokens):
    assert S.tokenize(text) == tokens


def test_build_vocab_orders_by_count_then_alphabetically():
    lists = [["b", "a", "c", "d"], ["a", "b", "d", "e"], ["<unk>", "<pad>", "<pad>"]]
    assert S.build_vocab(lists, max_size=5) == ["<pad>", "<unk>", "a", "b", "d"]
    assert S.build_vocab(lists, max_size=100) == ["<pad>", "<unk>", "a", "b", "d", "c", "e"]
    assert S.build_vocab([], max_size=10) == ["<pad>", "<unk>"]


def test_encode_keeps_the_end_and_pads_after():
    vocab = ["<pad>", "<unk>", "a", "b"]
    ids = S.encode([["a", "b", "c", "a"], ["zzz"], [], ["b", "a"]], vocab, max_len=3)
    assert ids.dtype == np.int64
    assert ids.tolist() == [[3, 1, 2], [1, 0, 0], [0, 0, 0], [3, 2, 0]]


def pool_case(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    lengths = rng.integers(0, shape[1] + 1, shape[0])
    lengths[0] = shape[1]
    mask = np.arange(shape[1])[None, :] < lengths[:, None]
    return x, mask


POOL = [(2, 5, 3), (1, 1, 1), (4, 3, 2), (3, 7, 1)]


@pytest.mark.parametrize("shape", POOL, ids=["x".join(map(str, s)) for s in POOL])
def test_pool_gradients(shape):
    x, mask = pool_case(shape, 1)
    layer = S.MaskedMeanPool()
    dy = np.random.default_rng(2).standard_normal((shape[0], shape[2]))
    y, cache = layer.forward(x, {}, state={"mask": mask})
    dx, grads = layer.backward(dy, cache)
    assert grads == {}
    num = numerical_grad(lambda v: layer.forward(v, {}, state={"mask": mask})[0], x, dy)
    assert_close(dx, num, 1e-7, 1e-9, "dx")
    expected = np.stack([x[n, mask[n]].mean(axis=0) if mask[n].any() else np.zeros(shape[2])
                         for n in range(shape[0])])
    assert_close(y, expected, 1e-12, 1e-12, "y")


def test_pool_dtype_and_purity():
    x, mask = pool_case((3, 4, 2), 3, np.float32)
    x0, m0 = x.copy(), mask.copy()
    state = {"mask": mask}
    y, cache = S.MaskedMeanPool().forward(x, {}, state=state)
    dx, _ = S.MaskedMeanPool().backward(np.ones_like(y), cache)
    assert y.dtype == dx.dtype == np.float32
    assert np.array_equal(x, x0) and np.array_equal(state["mask"], m0) and list(state) == ["mask"]


def test_pool_against_torch():
    torch = pytest.importorskip("torch")
    x, mask = pool_case((4, 6, 3), 5)
    dy = np.random.default_rng(6).standard_normal((4, 3))
    layer = S.MaskedMeanPool()
    y, cache = layer.forward(x, {}, state={"mask": mask})
    dx, _ = layer.backward(dy, cache)
    tx = torch.tensor(x, requires_grad=True)
    tm = torch.tensor(mask, dtype=torch.float64)
    ty = (tx * tm[:, :, None]).sum(1) / tm.sum(1, keepdim=True).clamp(min=1)
    ty.backward(torch.tensor(dy))
    assert_close(y, ty.detach().numpy(), 1e-12, 1e-12, "y")
    assert_close(dx, tx.grad.numpy(), 1e-12, 1e-12, "dx")


ARCHS = {
    "lstm": [{"type": "Embedding", "num_embeddings": 7, "embedding_dim": 3}, {"type": "LSTM", "input_size": 3, "hidden_size": 2},
             {"type": "MaskedMeanPool"}, {"type": "Linear", "in_features": 2, "out_features": 1}],
    "gru": [{"type": "Embedding", "num_embeddings": 7, "embedding_dim": 3}, {"type": "GRU", "input_size": 3, "hidden_size": 2},
            {"type": "MaskedMeanPool"}, {"type": "Linear", "in_features": 2, "out_features": 1}],
}


@pytest.mark.parametrize("cell", sorted(ARCHS))
def test_classifier_loss_gradients(cell):
    arch = ARCHS[cell]
    rng = np.random.default_rng(4)
    model = S.build_model(arch)
    params = {f"{i}.{k}": v for i, p in enumerate(model.init_params(rng)) for k, v in p.items()}
    ids = np.array([[2, 3, 4, 0], [5, 6, 1, 2], [3, 0, 0, 0]])
    target = np.array([1.0, 0.0, 1.0])
    before = {k: v.copy() for k, v in params.items()}
    loss, grads = S.classifier_loss(ids, target, params, arch=arch)
    assert sorted(grads) == sorted(params)
    for key in params:
        def f(v, key=key):
            return S.classifier_loss(ids, target, {**params, key: v}, arch=arch)[0]
        assert_close(grads[key], numerical_grad(f, params[key], np.array(1.0)), 1e-6, 1e-9, key)
        assert np.array_equal(params[key], before[key])
    # padding ids do not change the loss: the LSTM runs over them, but the pooling ignores them
    longer = np.concatenate([ids, np.zeros((3, 2), np.int64)], axis=1)
    assert np.isclose(S.classifier_loss(longer, target, params, arch=arch)[0], loss)
