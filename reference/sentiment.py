"""Reference code for the `sentiment` curriculum: review text to ids, masked pooling over time,
and the classifier's loss and gradients (docs/contracts.md, "The `sentiment` assignment").

The text functions are plain Python on the host (strings in, lists or an int64 NumPy array out).
MaskedMeanPool and classifier_loss are array-module agnostic (NumPy or CuPy), with no Python loop
over samples; inputs are never modified.
"""
import re
from collections import Counter

import numpy as np

from . import parallel
from .backend import get_array_module
from .layers import Dropout, Layer, Linear, Sequential
from .losses import BCEWithLogitsLoss
from .rnn import GRU, LSTM, Embedding

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
BREAK = "<br />"


def tokenize(text):
    """Lower-cased words of a review: `<br />` is a space, words are the matches of WORD (runs of
    letters and digits of any alphabet, apostrophes inside a word kept), left to right."""
    return WORD.findall(text.lower().replace(BREAK, " "))


def build_vocab(token_lists, *, max_size):
    """[PAD, UNK] + the words of `token_lists` by decreasing count, equal counts in str order,
    max_size entries at most (PAD and UNK never counted)."""
    counts = Counter(w for tokens in token_lists for w in tokens if w not in (PAD, UNK))
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [PAD, UNK] + [w for w, _ in words[:max(0, max_size - 2)]]


def encode(token_lists, vocab, *, max_len):
    """int64 (N, max_len): the last max_len words of each list as vocab indices (UNK_ID when
    missing), real ids first, PAD_ID after them."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.full((len(token_lists), max_len), PAD_ID, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        kept = list(tokens)[-max_len:] if max_len > 0 else []
        out[row, :len(kept)] = [index.get(w, UNK_ID) for w in kept]
    return out


class MaskedMeanPool(Layer):
    """Mean over the real steps: y[n] = sum_t m[n,t] x[n,t] / max(1, sum_t m[n,t]).

    Shapes: x (N, T, H), state["mask"] (N, T) (bool, or numbers read as mask != 0) -> y (N, H).
    dtype: that of x. `state` is read only; no parameters.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        if state is None or "mask" not in state:
            raise ValueError("MaskedMeanPool needs state['mask'] (N, T)")
        m = xp.asarray(state["mask"] != 0).astype(x.dtype)
        if m.shape != x.shape[:2]:
            raise ValueError(f"mask shape {m.shape} does not match x {x.shape[:2]}")
        count = xp.maximum(m.sum(axis=1, keepdims=True), 1)
        return xp.einsum("nth,nt->nh", x, m) / count, (m, count)

    def backward(self, dy, cache):
        m, count = cache
        return (dy / count)[:, None, :] * m[:, :, None], {}


LAYER_TYPES = {"Embedding": Embedding, "LSTM": LSTM, "GRU": GRU, "MaskedMeanPool": MaskedMeanPool,
               "Linear": Linear, "Dropout": Dropout}


def build_model(arch):
    """Sequential from [{"type": ..., **hyperparameters}] of LAYER_TYPES."""
    return Sequential(layers=[LAYER_TYPES[s["type"]](**{k: v for k, v in s.items() if k != "type"}) for s in arch])


def pooling_state(model, ids):
    """[{"mask": ids != PAD_ID}] for each masked pooling layer, {} for the others."""
    mask = ids != PAD_ID
    return [{"mask": mask} if isinstance(layer, MaskedMeanPool) else {} for layer in model.layers]


def classifier_loss(ids, target, params, *, arch, rng=None):
    """BCE-with-logits loss of the classifier `arch` on (ids (N, T), target (N,)) and the gradient
    of every parameter: (loss (), {"i.name": array}); params flat {"i.name": array}; `rng` for
    the Dropout layers of `arch`."""
    model = build_model(arch)
    layered = [{} for _ in arch]
    for key, value in params.items():
        i, name = key.split(".", 1)
        layered[int(i)][name] = value
    logits, cache = model.forward(ids, layered, train=True, rng=rng, state=pooling_state(model, ids))
    loss_fn = BCEWithLogitsLoss()
    loss, loss_cache = loss_fn.forward(logits, target.reshape(-1, 1).astype(logits.dtype))
    _, grads = model.backward(loss_fn.backward(loss_cache), cache)
    return loss, {f"{i}.{k}": g for i, gs in enumerate(grads) for k, g in gs.items()}


def blas_region():
    """A context in which the reference layers run with BLAS single-threaded (`parallel.region`):
    the drivers' evaluation of a trained classifier enters it, since the recurrent layers' many
    small products run several times slower on a busy machine when BLAS's threads spin between them."""
    return parallel.region()
