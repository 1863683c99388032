"""Train the IMDB sentiment classifier; write `sentiment_weights.npz` and `sentiment_curve.json`.

Usage, in this folder (with IMDB in dlgrade's cache, from `dlgrade data fetch imdb`, or
DLGRADE_DATA pointing at a folder that holds it):

    python train.py [--cell lstm|gru] [--epochs 2] [--hidden 128] [--max-len 800] [--seed 0] ...
    python train.py --device cuda ...     (on the GPU, with CuPy)

Model: Embedding -> LSTM (or GRU) -> MaskedMeanPool -> Linear(H, 1), one logit per review;
binary cross-entropy on the logits (`model.classifier_loss`), Adam with a linear warm-up and a
cosine learning-rate schedule, global gradient-norm clipping. Only this folder's code is used,
in float32.

Data: the vocabulary (`reviews.build_vocab`) is built from the reviews trained on, never from the
test split; reviews are encoded to at most --max-len ids (`reviews.encode`: the last ones kept).
The last --val reviews of a fixed shuffle of the train split are held out to choose the best
epoch. Batches hold reviews of about the same length (shuffled buckets), each cut to its own
longest review, so little time goes into padding. At the end the best weights are saved (weight
matrices as float16 unless --no-half) with the vocabulary and max_len, reloaded in float32 and
evaluated on val and on the whole test split.
"""
import argparse
import math
import os
import sys
import time

# One BLAS thread unless the environment says otherwise: on a busy 2-core machine OpenBLAS's
# thread pool spins while waiting and runs several times slower than a single thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                        # this folder's reviews, pooling, model, rnn, layers, ...
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import load_imdb  # noqa: E402

from layers import device_module, to_device  # noqa: E402
from model import build_model, classifier_loss, load_model, predict_proba, save_model  # noqa: E402
from optim import Adam  # noqa: E402
from reviews import PAD_ID, build_vocab, encode, tokenize  # noqa: E402
from text import clip_grad_norm  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="recurrent layer type")
    p.add_argument("--vocab-size", type=int, default=10000, help="vocabulary entries, <pad> and <unk> included")
    p.add_argument("--max-len", type=int, default=800, help="ids per review (the last ones kept)")
    p.add_argument("--embed", type=int, default=64, help="embedding size")
    p.add_argument("--hidden", type=int, default=128, help="hidden size of the recurrent layer")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="Dropout on the embeddings and on the pooled vector (0: none)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate")
    p.add_argument("--min-lr", type=float, default=1e-4, help="learning rate at the last step")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    p.add_argument("--val", type=int, default=500, help="train reviews held out to choose the best epoch")
    p.add_argument("--evals-per-epoch", type=int, default=2, help="val evaluations per epoch")
    p.add_argument("--time-limit", type=float, default=0,
                   help="training time budget in seconds (0: none): the learning-rate schedule follows "
                        "whichever of steps and time is further along, and training stops when it is spent")
    p.add_argument("--no-half", dest="half", action="store_false",
                   help="store the weight matrices as float32 instead of float16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the model, gradients and optimizer state on the GPU (CuPy); data and rng on the host")
    p.add_argument("--out", default=os.path.join(HERE, "sentiment_weights.npz"), help="weights file")
    return p.parse_args(argv)


def make_arch(vocab_size, args):
    """Embedding -> [Dropout] -> LSTM/GRU -> MaskedMeanPool -> [Dropout] -> Linear(H, 1)."""
    cell = {"lstm": "LSTM", "gru": "GRU"}[args.cell]
    drop = [{"type": "Dropout", "p": args.dropout}] if args.dropout > 0 else []
    return [{"type": "Embedding", "num_embeddings": vocab_size, "embedding_dim": args.embed}, *drop,
            {"type": cell, "input_size": args.embed, "hidden_size": args.hidden},
            {"type": "MaskedMeanPool"}, *drop,
            {"type": "Linear", "in_features": args.hidden, "out_features": 1}]


def init_params(model, rng):
    """Flat {"i.name": float32 array}: each layer's own initialisation, the embedding scaled to a
    standard deviation of 0.1 and the LSTM's forget-gate bias set to 1."""
    flat = {}
    for i, (layer, p) in enumerate(zip(model.layers, model.init_params(rng))):
        for k, v in p.items():
            v = np.asarray(v, dtype=np.float32)
            if type(layer).__name__ == "Embedding":
                v = v * np.float32(0.1)
            if type(layer).__name__ == "LSTM" and k == "b":
                H = layer.hidden_size
                v[H:2 * H] = 1.0
            flat[f"{i}.{k}"] = v
    return flat


def layered(flat, n):
    """{"i.name": array} -> a list of n per-layer dicts."""
    out = [{} for _ in range(n)]
    for key, value in flat.items():
        i, name = key.split(".", 1)
        out[int(i)][name] = value
    return out


def batches(ids, y, batch_size, rng=None):
    """(ids, y) batches of reviews of about the same length, each cut to its longest review.
    With rng: shuffled buckets, in random order; without: by length (evaluation)."""
    lengths = (ids != PAD_ID).sum(axis=1)
    tiebreak = rng.random(len(ids)) if rng is not None else np.arange(len(ids))
    order = np.lexsort((tiebreak, lengths))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    for idx in groups:
        T = max(1, int(lengths[idx].max()))
        yield ids[idx, :T], y[idx], idx


def lr_at(step, progress, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, progress)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress))


def accuracy(model, params, ids, y, xp):
    """Accuracy and mean binary cross-entropy of the model on (ids, y), batches by length."""
    p = np.zeros(len(ids))
    for x, _, idx in batches(ids, y, 500):
        p[idx] = predict_proba(model, params, xp.asarray(x), batch_size=500)
    eps = 1e-12
    nll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return float(np.mean((p > 0.5) == (y > 0.5))), float(nll)


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, device_module)
    start, cpu_start = time.time(), time.process_time()
    rng = np.random.default_rng(args.seed)

    texts, labels = load_imdb("train")
    order = rng.permutation(len(texts))
    fit_idx, val_idx = order[:len(texts) - args.val], order[len(texts) - args.val:]
    tokens = [tokenize(t) for t in texts]
    vocab = build_vocab([tokens[i] for i in fit_idx], max_size=args.vocab_size)  # never the test split
    ids = encode(tokens, vocab, max_len=args.max_len)
    y = np.asarray(labels, dtype=np.float64)
    data = {"fit": (ids[fit_idx], y[fit_idx]), "val": (ids[val_idx], y[val_idx])}
    lengths = np.array([len(t) for t in tokens])
    unk = float((ids == 1).sum() / (ids != PAD_ID).sum())
    print(f"data: {len(fit_idx)} train, {len(val_idx)} val reviews; tokens per review median "
          f"{int(np.median(lengths))}, {np.mean(lengths > args.max_len):.1%} longer than {args.max_len}; "
          f"vocab {len(vocab)} ({unk:.1%} of kept tokens unknown); {time.time() - start:.1f}s", flush=True)

    arch = make_arch(len(vocab), args)
    model = build_model(arch)
    params = to_device(xp, init_params(model, rng))
    print("model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"parameters: {sum(v.size for v in params.values()):,}", flush=True)

    opt_state = Adam(lr=args.lr).init_state(params)
    steps_per_epoch = math.ceil(len(fit_idx) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    eval_every = max(1, steps_per_epoch // max(1, args.evals_per_epoch))
    step, lr = 0, args.lr
    best = (-1.0, None, 0)
    running = [0.0, 0.0, 0, 0]                         # loss, |g|, correct, seen
    curve = []

    def report(epoch):
        nonlocal best
        model_params = layered(params, len(arch))
        val_acc, val_loss = accuracy(model, model_params, *data["val"], xp)
        if val_acc > best[0]:
            best = (val_acc, {k: v.copy() for k, v in params.items()}, step)
        loss_sum, norm_sum, correct, seen = running
        n = max(1, seen)
        print(f"epoch {epoch:2d}  step {step:5d}  loss {loss_sum / max(1, n):.4f}  val loss {val_loss:.4f}  "
              f"val acc {val_acc:.4f}  |g| {norm_sum / max(1, n):.2f}  lr {lr:.2e}  {time.time() - start:7.1f}s",
              flush=True)
        curve.append({"epoch": round(step / steps_per_epoch, 3), "step": step, "loss": loss_sum / n,
                      "val_loss": val_loss, "val_acc": val_acc})
        curves.write(args.out, curve)
        running[:] = [0.0, 0.0, 0, 0]

    train_start = time.time()
    out_of_time = False
    for epoch in range(1, args.epochs + 1):
        for x, t, _ in batches(*data["fit"], args.batch_size, rng):
            progress = (step - args.warmup) / max(1, total_steps - args.warmup)
            if args.time_limit:
                progress = max(progress, (time.time() - train_start) / args.time_limit)
            if progress >= 1:
                out_of_time = True
                break
            lr = lr_at(step, progress, args)
            loss, grads = classifier_loss(xp.asarray(x), xp.asarray(t.astype(np.float32)), params, arch=arch, rng=rng)
            grads, norm = clip_grad_norm(grads, args.clip)
            params, opt_state = Adam(lr=lr).step(params, grads, opt_state)
            step += 1
            running[0] += float(loss)
            running[1] += float(norm)
            running[2] += 1
            running[3] += 1
            if step % eval_every == 0:
                report(epoch)
        if out_of_time:
            if running[2]:
                report(epoch)
            print(f"time limit of {args.time_limit:.0f}s reached at step {step}", flush=True)
            break
    print(f"best val accuracy {best[0]:.4f} at step {best[2]}; training {time.time() - train_start:.1f}s",
          flush=True)

    store = [{k: (v.astype(np.float16) if args.half and v.ndim == 2 else v) for k, v in p.items()}
             for p in layered(best[1], len(arch))]
    save_model(args.out, arch, store, vocab, args.max_len)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)", flush=True)

    # Evaluate what was saved, as the grader will: reload, float32, evaluation mode, test reviews
    # tokenized and encoded with the saved vocabulary.
    arch2, params2, vocab2, max_len2 = load_model(args.out)
    model2 = build_model(arch2)
    params2 = to_device(xp, params2)
    val_acc, _ = accuracy(model2, params2, *data["val"], xp)
    test_texts, test_labels = load_imdb("test")
    test_ids = encode([tokenize(t) for t in test_texts], vocab2, max_len=max_len2)
    test_acc, test_loss = accuracy(model2, params2, test_ids, np.asarray(test_labels, dtype=np.float64), xp)
    print(f"saved model: val acc {val_acc:.4f}  test acc {test_acc:.4f} ({len(test_texts)} reviews)  "
          f"test loss {test_loss:.4f}", flush=True)
    print(f"total time {time.time() - start:.1f}s (cpu {time.process_time() - cpu_start:.1f}s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a layer, loss or utility it needs is not implemented yet "
                 "(run `dlgrade check sentiment .` to see which)")
