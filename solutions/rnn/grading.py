"""The `rnn` assignment: embeddings, RNN/LSTM/GRU with BPTT, masked temporal loss, clipping,
sampling, word2vec, and character language models graded in nats per character."""
import numpy as np

from grader.items import (CASES, FunctionItem, LayerItem, LossItem, Mutant, SamplerItem, StepItem, TextItem,
                     randn)

ORDER = 5  # the course's week
DATA = ("names", "shakespeare")
TRAIN = ("python train.py --dataset names", "python train.py --dataset shakespeare")  # the kit README's training commands
# Files from earlier assignments (file here: that assignment's file), see docs/kits.md: released as
# their stubs, the student copies in their own; `dlgrade release A --kit OUT --give-earlier` gives
# the answer key's working code instead.
EARLIER = {"layers.py": "mlp/layers.py", "losses.py": "mlp/losses.py", "optim.py": "mlp/optim.py",
           "init.py": "mlp/init.py", "mlp_model.py": "mlp/model.py"}

M = "grader.mutants:"
TEXT_LAYERS = ("Embedding", "RNN", "LSTM", "GRU", "TemporalLinear", "Dropout")
V, EMB, HID = 7, 4, 3  # small sizes keep the gradient checks quick
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def recurrent_params(rng, name, d, h, dtype):
    g = GATES[name]
    params = {"Wx": randn(rng, (d, g * h), dtype, 0.5), "Wh": randn(rng, (h, g * h), dtype, 0.5)}
    if name == "GRU":
        params.update(bx=randn(rng, (g * h,), dtype, 0.3), bh=randn(rng, (g * h,), dtype, 0.3))
    else:
        params["b"] = randn(rng, (g * h,), dtype, 0.3)
    return params


def sequence(name):
    def make(rng, shape, dtype):
        n, t, d = shape
        return ({"input_size": d, "hidden_size": HID}, randn(rng, shape, dtype),
                recurrent_params(rng, name, d, HID, dtype))
    return make


def initial_state(name):
    """A random initial state, except for a batch of one (the "no initial state" case: zeros)."""
    def make(rng, kwargs, x):
        n = len(x)
        if n == 1:
            return {}
        state = {"h": randn(rng, (n, HID), x.dtype, 0.5)}
        if name == "LSTM":
            state["c"] = randn(rng, (n, HID), x.dtype, 0.5)
        return state
    return make


def step(name):
    def make(rng, n, d, h, dtype):
        inputs = {"x": randn(rng, (n, d), dtype), "h": randn(rng, (n, h), dtype, 0.5),
                  "params": recurrent_params(rng, name, d, h, dtype)}
        if name == "LSTM":
            inputs["h_c"] = randn(rng, (n, h), dtype, 0.5)
        return {"input_size": d, "hidden_size": h}, inputs
    return make


def embedding(rng, shape, dtype):
    idx = rng.integers(0, V, shape)
    idx.flat[0] = idx.flat[-1]  # a repeated index: its gradients must accumulate
    return {"num_embeddings": V, "embedding_dim": EMB}, idx, {"W": randn(rng, (V, EMB), dtype)}


def temporal_linear(rng, shape, dtype):
    n, t, d = shape
    return ({"in_features": d, "out_features": 2}, randn(rng, shape, dtype),
            {"W": randn(rng, (d, 2), dtype, 0.5), "b": randn(rng, (2,), dtype)})


def masked_scores(rng, n, c, dtype, t=4):
    targets = rng.integers(0, c, (n, t))
    targets[:, -1] = -1  # padding at the end of every row...
    targets[0, 1] = -1   # ...and in the middle of one
    return randn(rng, (n, t, c), dtype, 2.0), targets


def clip_case(rng, dtype, k):
    grads = {"W": randn(rng, (3, 4), dtype, 2.0), "b": randn(rng, (4,), dtype, 0.5)}
    return {"grads": grads}, {"max_norm": [1.0, 100.0, 2.0][k]}


def sgns_case(rng, dtype, k, b=5, negatives=3, v=6, d=4):
    args = {"center": rng.integers(0, v, b), "context": rng.integers(0, v, b),
            "negatives": rng.integers(0, v, (b, negatives)),
            "params": {"W_in": randn(rng, (v, d), dtype, 0.5), "W_out": randn(rng, (v, d), dtype, 0.5)}}
    args["center"][1] = args["center"][0]  # repeated words accumulate
    return args, {}


def counts_case(rng, dtype, k):
    counts = np.concatenate([rng.integers(1, 10, 20), rng.integers(1000, 5000, 5), [200000]]).astype(dtype)
    return {"counts": counts}, {"t": [1e-3, 1e-2, 1e-3][k]}


SEQ_SHAPES = (("random", (3, 4, 3), np.float64), ("batch of 1, one step, no initial state", (1, 1, 2), np.float64),
              ("float32", (2, 3, 3), np.float32))
TL_SHAPES = (("random", (3, 4, 3), np.float64), ("batch of 1, one step", (1, 1, 2), np.float64),
             ("float32", (2, 3, 3), np.float32))
LONG = (("T=200, inputs x10 (must not overflow)", (2, 200, 3), 10.0),
        ("|pre-activation| > 710 (inputs x1000)", (2, 3, 3), 1000.0))


def sequence_items(key, name, fwd, bwd, step_fwd, step_bwd, mutants=()):
    bptt = Mutant("the gradient from step t+1 is not accumulated: at step t use dhs[:, t] plus what "
                  "flows back from step t+1", {name: M + name + "NoTimeAccumulation"})
    common = dict(name=name, module="rnn", make=sequence(name), shapes=SEQ_SHAPES, edge=LONG,
                  out_shape=lambda kw, x: (*x.shape[:2], kw["hidden_size"]), state=initial_state(name),
                  mutants=mutants + (bptt,))
    return [StepItem(f"rnn.{key}.step.forward", step_fwd, name=name, part="forward", make=step(name)),
            StepItem(f"rnn.{key}.step.backward", step_bwd, name=name, part="backward", make=step(name),
                     mutants=mutants),
            LayerItem(f"rnn.{key}.forward", fwd, part="forward", **common),
            LayerItem(f"rnn.{key}.backward", bwd, part="backward", **common)]


ITEMS = [
    LayerItem("rnn.embedding.forward", 2, name="Embedding", module="rnn", part="forward", make=embedding,
              shapes=CASES, out_shape=lambda kw, x: (*x.shape, kw["embedding_dim"])),
    LayerItem("rnn.embedding.backward", 3, name="Embedding", module="rnn", part="backward", make=embedding,
              shapes=CASES, out_shape=lambda kw, x: (*x.shape, kw["embedding_dim"])),
    *sequence_items("rnn", "RNN", 3, 5, 2, 3),
    *sequence_items("lstm", "LSTM", 3, 6, 3, 4,
                    mutants=(Mutant("the forget gate's bias gradient is missing", {"LSTM": M + "LSTMNoForgetBiasGrad"}),)),
    *sequence_items("gru", "GRU", 3, 6, 3, 4),
    LayerItem("rnn.temporal_linear.forward", 1, name="TemporalLinear", module="rnn", part="forward",
              make=temporal_linear, shapes=TL_SHAPES, out_shape=lambda kw, x: (*x.shape[:2], kw["out_features"])),
    LayerItem("rnn.temporal_linear.backward", 2, name="TemporalLinear", module="rnn", part="backward",
              make=temporal_linear, shapes=TL_SHAPES, out_shape=lambda kw, x: (*x.shape[:2], kw["out_features"])),
    LossItem("rnn.loss.temporal_cross_entropy", 5, name="TemporalCrossEntropyLoss", module="rnn",
             make=masked_scores, edge=(1000.0,),
             mutants=(Mutant("masked positions (target -1) must not count: ignore them in the loss and its mean",
                             {"TemporalCrossEntropyLoss": M + "TemporalCENoMask"}),)),
    FunctionItem("rnn.clip_grad_norm", 4, name="clip_grad_norm", module="text", make=clip_case,
                 outputs=("clipped", "total_norm"),
                 mutants=(Mutant("clip by one global norm over all gradients, not each tensor by its own",
                                 {"clip_grad_norm": M + "clip_per_tensor"}),
                          Mutant("clipping skipped: when total_norm > max_norm scale every gradient by "
                                 "max_norm / total_norm", {"clip_grad_norm": M + "clip_skipped"}),
                          Mutant("clipping inverted: the factor is max_norm / total_norm, not total_norm / max_norm",
                                 {"clip_grad_norm": M + "clip_inverted"}))),
    SamplerItem("rnn.sample_next", 7),
    FunctionItem("rnn.word2vec.sgns_loss", 6, name="sgns_loss", module="word2vec", make=sgns_case,
                 outputs=("loss", "grads"), wrt=("params/W_in", "params/W_out")),
    FunctionItem("rnn.word2vec.keep_probability", 3, name="keep_probability", module="word2vec", make=counts_case),
    TextItem("rnn.names.nll", 10, weights="names_weights.npz", corpus="names", floor=2.40, target=2.05,
             timeout=300, layers=TEXT_LAYERS),
    TextItem("rnn.shakespeare.nll", 12, weights="shakespeare_weights.npz", corpus="shakespeare", floor=2.20,
             target=1.60, timeout=300, layers=TEXT_LAYERS),
]
