"""Train character-level language models; write `<dataset>_weights.npz` and `<dataset>_curve.json`.

Usage, in this folder (with the datasets in dlgrade's cache, from `dlgrade data fetch names` and
`dlgrade data fetch shakespeare`, or DLGRADE_DATA pointing at a folder holding names.txt and
tinyshakespeare.txt):

    python train.py --dataset names [--epochs 20] [--hidden 512] [--seed 0] ...
    python train.py --dataset shakespeare [--epochs 10] [--seq-len 128] ...
    python train.py --dataset names --device cuda ...     (on the GPU, with CuPy)

Model: Embedding -> Dropout -> LSTM (or GRU; --layers of them, Dropout after each) ->
TemporalLinear to the vocabulary; softmax cross-entropy per character, Adam with a cosine
learning-rate schedule and global gradient-norm clipping. Only this folder's code is used, in
float32.

- names: vocabulary "." + a-z, "." (index 0) starts and ends every name; a name is the sequence
  ".name.", inputs all but its last character, targets all but its first. Batches hold names of
  about the same length (shuffled buckets), padded with ignore_index=-1 targets.
- shakespeare: vocabulary the sorted characters of the train split; the train text is cut into
  --batch-size parallel streams read in --seq-len chunks, the hidden state carried from one
  chunk to the next (truncated backpropagation through time), a random offset each epoch.

Held-out loss is in nats per predicted character (for names the final "." counts; for
Shakespeare the text is one continuous stream, read in chunks with the state carried). The
best weights on val are kept; at the end they are saved (weight matrices as float16 unless
--no-half), reloaded in float32 and evaluated on val and test, and a few samples are printed.
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
sys.path.insert(0, HERE)                        # this folder's rnn, layers, optim, text, model
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import load_names, load_shakespeare  # noqa: E402

from layers import device_module, to_device, to_numpy  # noqa: E402
from model import build_model, load_model, save_model  # noqa: E402
from optim import Adam  # noqa: E402
from rnn import TemporalCrossEntropyLoss  # noqa: E402
from text import clip_grad_norm, sample_next  # noqa: E402

IGNORE = -1
# Per-dataset defaults of the options given as None below.
DEFAULTS = {
    "names": dict(cell="lstm", embed=64, hidden=512, layers=1, dropout=0.3, epochs=20,
                  lr=2e-3, min_lr=2e-5, batch_size=64, seq_len=0, eval_every=0),
    "shakespeare": dict(cell="lstm", embed=64, hidden=512, layers=1, dropout=0.15, epochs=10,
                        lr=2e-3, min_lr=2e-5, batch_size=32, seq_len=128, eval_every=0),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=sorted(DEFAULTS), required=True)
    p.add_argument("--cell", choices=["lstm", "gru"], help="recurrent layer type")
    p.add_argument("--embed", type=int, help="embedding size")
    p.add_argument("--hidden", type=int, help="hidden size of each recurrent layer")
    p.add_argument("--layers", type=int, help="number of recurrent layers")
    p.add_argument("--dropout", type=float, help="dropout after the embedding and each layer")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, help="peak Adam learning rate")
    p.add_argument("--min-lr", type=float, help="learning rate at the last step")
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    p.add_argument("--batch-size", type=int, help="names (or parallel text streams) per batch")
    p.add_argument("--seq-len", type=int, help="shakespeare: characters per chunk (BPTT length)")
    p.add_argument("--eval-every", type=int,
                   help="shakespeare: steps between val evaluations (0: once per epoch)")
    p.add_argument("--time-limit", type=float, default=0,
                   help="training time budget in seconds (0: none): the learning-rate schedule "
                        "follows whichever of steps and time is further along, and training "
                        "stops when the budget is spent, so a slow machine still anneals")
    p.add_argument("--train-on-val", action="store_true",
                   help="train on train + val (for a final fit once the settings were chosen "
                        "on val; the last weights are kept)")
    p.add_argument("--no-half", dest="half", action="store_false",
                   help="store the weight matrices as float32 instead of float16")
    p.add_argument("--samples", type=int, default=0,
                   help="names to sample (or characters of text) at the end (0: default)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the model, gradients and optimizer state on the GPU (CuPy); data and rng on the host")
    p.add_argument("--out", help="weights file (default: <dataset>_weights.npz here)")
    args = p.parse_args(argv)
    for k, v in DEFAULTS[args.dataset].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.out is None:
        args.out = os.path.join(HERE, f"{args.dataset}_weights.npz")
    return args


def make_arch(vocab_size, args):
    """Embedding -> Dropout -> [LSTM/GRU -> Dropout] * layers -> TemporalLinear."""
    cell = {"lstm": "LSTM", "gru": "GRU"}[args.cell]
    arch = [{"type": "Embedding", "num_embeddings": vocab_size, "embedding_dim": args.embed}]
    size = args.embed
    for _ in range(args.layers):
        if args.dropout > 0:
            arch.append({"type": "Dropout", "p": args.dropout})
        arch.append({"type": cell, "input_size": size, "hidden_size": args.hidden})
        size = args.hidden
    if args.dropout > 0:
        arch.append({"type": "Dropout", "p": args.dropout})
    arch.append({"type": "TemporalLinear", "in_features": size, "out_features": vocab_size})
    return arch


def init_params(model, rng):
    """The model's parameters in float32; each LSTM's forget-gate bias starts at 1."""
    params = [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)]
    for layer, p in zip(model.layers, params):
        if type(layer).__name__ == "LSTM":
            H = layer.hidden_size
            p["b"][H:2 * H] = 1.0
    return params


# ----------------------------------------------------------------------------- data
def encode_names(names, stoi):
    """Each name as the int array of ".name." (index 0 is ".")."""
    return [np.array([0] + [stoi[ch] for ch in name] + [0], dtype=np.int64) for name in names]


def name_batches(seqs, batch_size, rng=None):
    """(inputs, targets) int arrays (B, T): names of about the same length together, targets
    padded with IGNORE (inputs with 0). With rng, random order of batches and of names within
    a length; without, in order of length (for evaluation)."""
    lengths = np.array([len(s) for s in seqs])
    tiebreak = rng.random(len(seqs)) if rng is not None else np.arange(len(seqs))
    order = np.lexsort((tiebreak, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    for idx in batches:
        T = max(lengths[idx]) - 1
        inputs = np.zeros((len(idx), T), dtype=np.int64)
        targets = np.full((len(idx), T), IGNORE, dtype=np.int64)
        for row, i in enumerate(idx):
            s = seqs[i]
            inputs[row, :len(s) - 1] = s[:-1]
            targets[row, :len(s) - 1] = s[1:]
        yield inputs, targets


def text_streams(ids, n_streams, offset=0):
    """The text ids[offset:] cut into n_streams contiguous rows of equal length (n, L + 1):
    row r continues where row r - 1 stops, inputs are [:, :-1] and targets [:, 1:]."""
    ids = ids[offset:]
    L = (len(ids) - 1) // n_streams
    rows = np.lib.stride_tricks.sliding_window_view(ids, L + 1)[::L][:n_streams]
    return np.ascontiguousarray(rows)


# ----------------------------------------------------------------------------- evaluation
def nats_per_char_names(model, params, seqs, batch_size=500, xp=np):
    """Mean loss over every predicted character of the ".name." sequences (final "." too)."""
    loss_fn = TemporalCrossEntropyLoss(ignore_index=IGNORE)
    total, count = 0.0, 0
    for inputs, targets in name_batches(seqs, batch_size):
        scores, _ = model.forward(xp.asarray(inputs), params, train=False)
        loss, _ = loss_fn.forward(scores, xp.asarray(targets))
        n = int((targets != IGNORE).sum())
        total += float(loss) * n
        count += n
    return total / count


def nats_per_char_text(model, params, ids, n_streams=1, chunk=256, xp=np):
    """Mean loss predicting ids[1:] from ids[:-1] as n_streams continuous streams, read in
    chunks with the hidden state carried (n_streams=1: the whole text as one stream; the
    remainder that does not divide into streams is left out)."""
    loss_fn = TemporalCrossEntropyLoss(ignore_index=IGNORE)
    rows = text_streams(ids, n_streams)
    state = model.init_state()
    total, count = 0.0, 0
    for s in range(0, rows.shape[1] - 1, chunk):
        inputs, targets = rows[:, s:s + chunk], rows[:, s + 1:s + chunk + 1]
        inputs = inputs[:, :targets.shape[1]]
        scores, _ = model.forward(xp.asarray(inputs), params, train=False, state=state)
        loss, _ = loss_fn.forward(scores, xp.asarray(targets))
        total += float(loss) * targets.size
        count += targets.size
    return total / count


def sample(model, params, rng, *, n, length, prompt, stop=None, temperature=1.0, xp=np):
    """n sequences of up to `length` sampled characters after `prompt` (ids), one step at a
    time with the hidden state carried; a row ends at the id `stop` (if given). Host arrays."""
    state = model.init_state()
    x = xp.asarray(np.tile(np.asarray(prompt, dtype=np.int64), (n, 1)))
    out = np.zeros((n, length), dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    for t in range(length):
        scores, _ = model.forward(x, params, train=False, state=state)
        x = sample_next(scores[:, -1], rng=rng, temperature=temperature)[:, None]
        nxt = to_numpy(x[:, 0])
        out[:, t] = nxt
        if stop is not None:
            done |= nxt == stop
            if done.all():
                return out[:, :t + 1]
    return out


# ----------------------------------------------------------------------------- training
def lr_at(step, progress, args):
    """Linear warm-up for args.warmup steps, then cosine from args.lr to args.min_lr as
    `progress` goes from 0 to 1."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, progress)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress))


def train_step(model, params, opt_state, inputs, targets, lr, args, rng, state=None):
    """One forward/backward pass and Adam update; returns (params, opt_state, loss, norm)."""
    loss_fn = TemporalCrossEntropyLoss(ignore_index=IGNORE)
    scores, cache = model.forward(inputs, params, train=True, rng=rng, state=state)
    loss, loss_cache = loss_fn.forward(scores, targets)
    _, grads = model.backward(loss_fn.backward(loss_cache), cache)
    flat = {f"{i}.{k}": g for i, gs in enumerate(grads) for k, g in gs.items()}
    flat, norm = clip_grad_norm(flat, args.clip)
    opt = Adam(lr=lr)
    new_params, new_state = [], []
    for i, (p, s) in enumerate(zip(params, opt_state)):
        if p:
            p, s = opt.step(p, {k: flat[f"{i}.{k}"] for k in p}, s)
        new_params.append(p)
        new_state.append(s)
    return new_params, new_state, float(loss), float(norm)


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, device_module)
    print("malloc keeps freed memory:", training.keep_freed_memory(), flush=True)
    start, cpu_start = time.time(), time.process_time()
    rng = np.random.default_rng(args.seed)

    if args.dataset == "names":
        splits = load_names()
        letters = sorted(set("".join(splits["train"])))
        vocab = ["."] + [ch for ch in letters if ch != "."]
        stoi = {ch: i for i, ch in enumerate(vocab)}
        data = {k: encode_names(v, stoi) for k, v in splits.items()}
        data["fit"] = data["train"] + data["val"] if args.train_on_val else data["train"]
        n_chars = sum(len(s) - 1 for s in data["fit"])
        steps_per_epoch = math.ceil(len(data["fit"]) / args.batch_size)
        print(f"data: {len(splits['train'])} train, {len(splits['val'])} val, "
              f"{len(splits['test'])} test names; {len(data['fit'])} names, {n_chars} "
              f"characters to predict per epoch", flush=True)
    else:
        splits = load_shakespeare()
        vocab = sorted(set(splits["train"]))
        stoi = {ch: i for i, ch in enumerate(vocab)}
        data = {k: np.array([stoi[ch] for ch in v], dtype=np.int64) for k, v in splits.items()}
        # train and val are contiguous in the text: together they are its first 90%.
        data["fit"] = (np.concatenate([data["train"], data["val"]]) if args.train_on_val
                       else data["train"])
        stream_len = (len(data["fit"]) - args.seq_len - 1) // args.batch_size
        steps_per_epoch = stream_len // args.seq_len
        print(f"data: {len(data['train'])} train, {len(data['val'])} val, {len(data['test'])} "
              f"test characters; {len(data['fit'])} trained on, in {args.batch_size} streams "
              f"x {steps_per_epoch} chunks of {args.seq_len} per epoch", flush=True)
    print(f"vocab ({len(vocab)}): {''.join(vocab)!r}", flush=True)
    if args.train_on_val:
        print("--train-on-val: val is part of the training data, so the val column below is "
              "not a held-out measure and the last weights are kept; test stays held out",
              flush=True)

    arch = make_arch(len(vocab), args)
    model = build_model(arch)
    params = to_device(xp, init_params(model, rng))
    print("model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"parameters: {sum(v.size for p in params for v in p.values()):,}", flush=True)

    def evaluate(split, params):
        if args.dataset == "names":
            return nats_per_char_names(model, params, data[split], xp=xp)
        return nats_per_char_text(model, params, data[split], n_streams=16, xp=xp)

    opt_state = [Adam(lr=args.lr).init_state(p) for p in params]
    total_steps = args.epochs * steps_per_epoch
    step, lr = 0, args.lr
    best = (math.inf, None, 0)                         # (val nats/char, params, step)
    running = [0.0, 0.0, 0]                            # loss and gradient-norm sums, steps
    curve = []                                         # one row per report, for curves.write

    def report(epoch):
        """Evaluate on val, keep the best parameters, log one line."""
        nonlocal best
        val = evaluate("val", params)
        if val < best[0] or args.train_on_val:       # val not held out: keep the last
            best = (val, params, step)
        loss_sum, norm_sum, n = running
        print(f"epoch {epoch:3d}  step {step:5d}  loss {loss_sum / n:.4f}  val {val:.4f} "
              f"nats/char  |g| {norm_sum / n:.2f}  lr {lr:.2e}  {time.time() - start:7.1f}s",
              flush=True)
        curve.append({"epoch": epoch, "step": step, "loss": loss_sum / n, "val_nats": val})
        curves.write(args.out, curve)
        running[:] = [0.0, 0.0, 0]

    train_start = time.time()
    for epoch in range(1, args.epochs + 1):
        if args.dataset == "names":
            batches = name_batches(data["fit"], args.batch_size, rng)
            state = None
        else:
            rows = text_streams(data["fit"], args.batch_size, int(rng.integers(args.seq_len)))
            batches = ((rows[:, s:s + args.seq_len], rows[:, s + 1:s + args.seq_len + 1])
                       for s in range(0, steps_per_epoch * args.seq_len, args.seq_len))
            state = model.init_state()                 # the hidden state, carried across chunks
        out_of_time = False
        for inputs, targets in batches:
            progress = (step - args.warmup) / max(1, total_steps - args.warmup)
            if args.time_limit:
                progress = max(progress, (time.time() - train_start) / args.time_limit)
            if progress >= 1:
                out_of_time = True
                break
            lr = lr_at(step, progress, args)
            params, opt_state, loss, norm = train_step(model, params, opt_state, xp.asarray(inputs),
                                                       xp.asarray(targets), lr, args, rng, state)
            step += 1
            running[0] += loss
            running[1] += norm
            running[2] += 1
            if args.eval_every and step % args.eval_every == 0:
                report(epoch)
        if running[2]:
            report(epoch)
        if out_of_time:
            print(f"time limit of {args.time_limit:.0f}s reached at step {step}", flush=True)
            break
    print(f"{'last' if args.train_on_val else 'best'} val {best[0]:.4f} nats/char at step "
          f"{best[2]}", flush=True)

    store = [{k: (v.astype(np.float16) if args.half and v.ndim == 2 else v) for k, v in p.items()}
             for p in best[1]]
    save_model(args.out, arch, store, vocab)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)", flush=True)

    # Evaluate what was saved, as the grader will: reload, float32, evaluation mode.
    arch2, params2, _, vocab2 = load_model(args.out)
    params2 = to_device(xp, params2)
    model2 = build_model(arch2)
    if args.dataset == "names":
        val = nats_per_char_names(model2, params2, data["val"], xp=xp)
        test = nats_per_char_names(model2, params2, data["test"], xp=xp)
    else:
        val = nats_per_char_text(model2, params2, data["val"], xp=xp)
        test = nats_per_char_text(model2, params2, data["test"], xp=xp)
    print(f"saved model: val {val:.4f} nats/char  test {test:.4f} nats/char", flush=True)

    sample_rng = np.random.default_rng(args.seed)
    if args.dataset == "names":
        out = sample(model2, params2, sample_rng, n=args.samples or 20, length=30, prompt=[0],
                     stop=0, temperature=args.temperature, xp=xp)
        names = ["".join(vocab2[i] for i in row).split(".")[0] for row in out]
        train_set = set(splits["train"])
        print("samples (* = not in the train split):",
              " ".join(n + ("" if n in train_set else "*") for n in names), flush=True)
    else:
        prompt = [stoi[ch] for ch in "\n"]
        out = sample(model2, params2, sample_rng, n=1, length=args.samples or 500, prompt=prompt,
                     temperature=args.temperature, xp=xp)
        print("sample:\n" + "".join(vocab2[i] for i in out[0]), flush=True)
    print(f"total time {time.time() - start:.1f}s (cpu {time.process_time() - cpu_start:.1f}s)",
          flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a layer, loss or utility it needs is not implemented yet "
                 "(run `dlgrade check rnn .` to see which)")
