"""The `sentiment` assignment: IMDB reviews to tokens, a vocabulary and fixed-length ids, masked
mean pooling, the classifier's loss, and a trained LSTM/GRU classifier graded by test accuracy."""
import json
import re
from dataclasses import dataclass

import numpy as np

from grader.items import (Call, CheckResult, ComparedItem, FunctionItem, LayerItem, Mutant, TrustedItem, WeightsError,
                          course_data, randn)

ORDER = 6  # the course's week: after `rnn`
DATA = ("imdb",)
TRAIN = ("python train.py",)
# Files from earlier assignments (file here: that assignment's file), see docs/kits.md.
EARLIER = {"layers.py": "mlp/layers.py", "losses.py": "mlp/losses.py", "optim.py": "mlp/optim.py",
           "init.py": "mlp/init.py", "mlp_model.py": "mlp/model.py", "backend.py": "linear/backend.py",
           "rnn.py": "rnn/rnn.py", "text.py": "rnn/text.py"}

M = "solutions/sentiment/mutants.py:"
MODEL_LAYERS = ("Embedding", "LSTM", "GRU", "MaskedMeanPool", "Linear", "Dropout")
RECURRENT = ("LSTM", "GRU")

# --------------------------------------------------------------------------- text cases
# Pieces of made-up reviews: capitals, apostrophes inside and around words, digits, markup, accents,
# underscores and hyphens, so that every rule of the tokenizer is exercised.
PIECES = ("the", "movie", "Film", "don't", "It's", "GREAT", "awful", "10/10", "café", "naïve", "well-made",
          "snake_case", "o'clock", "'quoted'", "rock'n'roll", "a", "2001", "<br />", "<br /><br />", "<BR />",
          "!!!", "...", "(great)", '"so-so"', "A+", "Ünïcode", "l'amour", "can't", "b-movie", "90's", "e-mail",
          "plot", "actors'", "x", "I", "loved", "hated", "it", "?!", "br", "<i>", "</i>", "5", "--", "Mr.", "don''t")
SEPARATORS = (" ", " ", " ", "  ", ", ", ". ", "\n", "\t", "-", "", "<br />")


def review(rng, n):
    """A made-up review of n pieces joined by random separators."""
    parts = [PIECES[int(i)] for i in rng.integers(0, len(PIECES), n)]
    return "".join(p + SEPARATORS[int(rng.integers(len(SEPARATORS)))] for p in parts).strip(" ")


def tokenize_case(rng):
    texts = [review(rng, int(rng.integers(3, 25))) for _ in range(6)]
    return texts + ["", "<br /><br />", "Don't<br />watch it!<BR />AWFUL, 0/10."]


WORDS = ("good", "bad", "plot", "acting", "film", "boring", "great", "it's", "zombie", "b", "a", "Z", "café", "10")


def token_lists(rng, n, k=8):
    """n token lists over `WORDS` with skewed counts (many ties)."""
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p = p / p.sum()
    return [[WORDS[int(i)] for i in rng.choice(len(WORDS), int(rng.integers(0, k + 1)), p=p)] for _ in range(n)]


def vocab_cases(rng):
    """(lists, max_size): cut inside the ranking, room for every word, only the two specials, and
    lists that hold "<pad>" and "<unk>" as tokens (never counted)."""
    base = token_lists(rng, 6)
    return [(base, 6), (base, 100), (base, 2), (token_lists(rng, 4) + [["<unk>", "<pad>", "<unk>"]], 5),
            ([["b", "a", "c"], ["c", "b", "a"], ["d"]], 4)]


def encode_cases(rng):
    """(lists, vocab, max_len): lists shorter than, as long as and longer than max_len, empty ones,
    unknown words; max_len 1 too."""
    vocab = ["<pad>", "<unk>"] + list(WORDS[:8])
    lists = token_lists(rng, 5, k=10) + [[], list(WORDS[:6]), ["unseen", "good", "nope"]]
    return [(lists, vocab, 6), (lists, vocab, 1), (token_lists(rng, 3, k=4), vocab, 12)]


def decoded(out):
    """The JSON a text driver returned (uint8 UTF-8 bytes), or None when it is not that."""
    if type(out) is not np.ndarray or out.dtype != np.uint8 or out.ndim != 1:
        return None
    try:
        return json.loads(out.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def shorten(value, width=160):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[:width - 3] + "..."


@dataclass(frozen=True)
class ReviewTextItem(ComparedItem):
    """A text function (`tokenize`, `build_vocab`, `encode`) on made-up reviews, compared with the
    reference exactly; a known bug is named when the output matches it, and `encode` and
    `build_vocab` must not modify their inputs."""
    name: str = "tokenize"
    kind: str = "tokenize"
    module: str = "reviews"

    def calls(self, rng):
        base = {"module": self.module, "name": self.name, "kind": self.kind}
        if self.kind == "tokenize":
            return [Call("review_text", {**base, "texts": tokenize_case(rng)}, {})]
        if self.kind == "vocab":
            return [Call("review_text", {**base, "lists": lists, "kwargs": {"max_size": size}}, {})
                    for lists, size in vocab_cases(rng)]
        return [Call("review_text", {**base, "lists": lists, "vocab": vocab, "kwargs": {"max_len": n}}, {})
                for lists, vocab, n in encode_cases(rng)]

    def _value(self, out):
        if self.kind != "encode":
            return decoded(out.get("json"))
        ids = out.get("ids")
        return ids if type(ids) is np.ndarray else None

    def _same(self, a, b):
        if self.kind == "encode":
            return a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)
        return a == b

    def _where(self, call):
        spec = call.spec
        if self.kind == "vocab":
            return f"max_size={spec['kwargs']['max_size']}, lists {shorten(spec['lists'], 120)}"
        if self.kind == "encode":
            return f"max_len={spec['kwargs']['max_len']}, vocab {shorten(spec['vocab'], 100)}"
        return ""

    def evaluate(self, calls, got, expected, alternatives):
        what = {"tokenize": "tokens", "vocab": "vocabulary", "encode": "ids"}[self.kind]
        check = f"{what} {'matches' if self.kind == 'vocab' else 'match'} the reference"
        for i, call in enumerate(calls):
            mine, ref = self._value(got[i]), self._value(expected[i])
            if self.kind == "encode" and mine is not None and not np.issubdtype(mine.dtype, np.integer):
                return [CheckResult(check, False, f"{self.name} returned {mine.dtype} ids, expected int64"),
                        CheckResult("inputs not modified", False, "", gated=True)]
            if mine is None:
                return [CheckResult(check, False, f"{self.name} returned no {what} of the expected kind "
                                    f"({'an integer NumPy array' if self.kind == 'encode' else 'a list of str'})"),
                        CheckResult("inputs not modified", False, "", gated=True)]
            if self._same(mine, ref):
                continue
            msg = self._mismatch(call, mine, ref)
            for hint, alt in alternatives:
                if self._same(mine, self._value(alt[i]) if alt[i] is not None else None):
                    msg += f"; likely bug: {hint}"
                    break
            return [CheckResult(check, False, msg), CheckResult("inputs not modified", False, "", gated=True)]
        return [CheckResult(check, True), self._purity(calls, got)]

    def _mismatch(self, call, mine, ref):
        if self.kind == "tokenize":
            j = next(j for j in range(max(len(mine), len(ref))) if j >= len(mine) or j >= len(ref) or mine[j] != ref[j])
            text = call.spec["texts"][j] if j < len(call.spec["texts"]) else None
            if j >= len(mine) or j >= len(ref):
                return f"{len(mine)} token lists for {len(ref)} texts"
            return f"text {json.dumps(text, ensure_ascii=False)}: got {shorten(mine[j])}, expected {shorten(ref[j])}"
        if self.kind == "vocab":
            return f"{self._where(call)}: got {shorten(mine)}, expected {shorten(ref)}"
        if mine.shape != ref.shape:
            return f"{self._where(call)}: ids of shape {mine.shape}, expected {ref.shape}"
        r = int(np.argmax((mine != ref).any(axis=1)))
        return (f"{self._where(call)}: row {r} (tokens {shorten(call.spec['lists'][r], 100)}) got "
                f"{mine[r].tolist()}, expected {ref[r].tolist()}")

    def _purity(self, calls, got):
        if self.kind == "tokenize":
            return CheckResult("inputs not modified", True, gated=True)
        for i, call in enumerate(calls):
            given = [call.spec["lists"]] if self.kind == "vocab" else [call.spec["lists"], call.spec["vocab"]]
            after = decoded((got[i].get("after") or {}).get("json"))
            if after != (given[0] if self.kind == "vocab" else given):
                return CheckResult("inputs not modified", False, f"{self.name} modified the lists (or the vocab) it was given",
                                   gated=True)
        return CheckResult("inputs not modified", True, gated=True)


# --------------------------------------------------------------------------- pooling and the model
def pool(rng, shape, dtype):
    return {}, randn(rng, shape, dtype), {}


def pool_mask(rng, kwargs, x):
    """Real steps first, padding after: row 0 full, row 1 (when there is one) without any real step,
    the others random lengths (at least 1)."""
    n, t = x.shape[:2]
    lengths = rng.integers(1, t + 1, n)
    lengths[0] = t
    if n > 2:
        lengths[1] = 0
    return {"mask": np.arange(t)[None, :] < lengths[:, None]}


POOL_SHAPES = (("random", (4, 5, 3), np.float64), ("batch of 1, one step", (1, 1, 2), np.float64),
               ("float32", (3, 4, 2), np.float32), ("T=7, H=1", (5, 7, 1), np.float64))
V, E, H = 9, 3, 2


def classifier_case(cell, n=4, t=6):
    def make(rng, dtype):
        arch = [{"type": "Embedding", "num_embeddings": V, "embedding_dim": E},
                {"type": cell, "input_size": E, "hidden_size": H}, {"type": "MaskedMeanPool"},
                {"type": "Linear", "in_features": H, "out_features": 1}]
        g = 4 if cell == "LSTM" else 3
        params = {"0.W": randn(rng, (V, E), dtype), "1.Wx": randn(rng, (E, g * H), dtype, 0.5),
                  "1.Wh": randn(rng, (H, g * H), dtype, 0.5), "3.W": randn(rng, (H, 1), dtype), "3.b": randn(rng, (1,), dtype)}
        if cell == "GRU":
            params.update({"1.bx": randn(rng, (g * H,), dtype, 0.3), "1.bh": randn(rng, (g * H,), dtype, 0.3)})
        else:
            params["1.b"] = randn(rng, (g * H,), dtype, 0.3)
        lengths = rng.integers(1, t + 1, n)
        lengths[0] = t
        ids = np.where(np.arange(t)[None, :] < lengths[:, None], rng.integers(1, V, (n, t)), 0).astype(np.int64)
        target = rng.integers(0, 2, n).astype(dtype)
        return {"ids": ids, "target": target, "params": params}, {"arch": arch}
    return make


LOSS_KEYS = ("0.W", "1.Wx", "1.Wh", "1.b", "3.W", "3.b")


# --------------------------------------------------------------------------- the trained classifier
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # the contract's tokenizer: lower-case, <br /> a space, these words
PAD_ID, UNK_ID = 0, 1


def tokens_of(text):
    return WORD.findall(text.lower().replace("<br />", " "))


@dataclass(frozen=True)
class SentimentAccuracyItem(TrustedItem):
    """Test accuracy of the submitted classifier on every `stride`-th review of the IMDB test split
    (half negative, half positive), tokenized and encoded with the file's own vocabulary and
    max_len; linear credit from `floor` to `target`. The vocabulary must hold words of the training
    split only; the model needs a recurrent layer before its masked pooling. The output lists the
    reviews the model is most confidently wrong about."""
    floor: float = 0.70
    target: float = 0.84
    stride: int = 20
    shown: int = 5
    modules: tuple = ("rnn", "pooling", "layers")
    max_flops: float = 0.0

    def check_arch(self, arch):
        for i, layer in enumerate(arch):
            if layer["type"] not in self.layers:
                raise WeightsError(f"{self.weights}: layer {i} is a {layer['type']}, which this assignment's model "
                                   f"may not use (allowed: {', '.join(self.layers)})")
        types = [layer["type"] for layer in arch]
        if types[0] != "Embedding":
            raise WeightsError(f"{self.weights}: the first layer must be the Embedding of the token ids")
        pools = [i for i, t in enumerate(types) if t == "MaskedMeanPool"]
        rec = [i for i, t in enumerate(types) if t in RECURRENT]
        if not rec:
            raise WeightsError(f"{self.weights}: the model has no recurrent layer (LSTM or GRU): a bag of "
                               f"embeddings is not this assignment's model")
        if len(pools) != 1 or pools[0] < rec[0]:
            raise WeightsError(f"{self.weights}: the model needs one MaskedMeanPool after its recurrent layer")

    def test_set(self, *, download: bool = True):
        texts, y = course_data("load_imdb")("test", download=download)
        idx = np.arange(0, len(texts), self.stride)
        return tuple(texts[i] for i in idx), np.asarray(y)[idx], download

    def calls_for(self, arch, weights, meta, data):
        vocab, max_len = meta.get("vocab"), meta.get("max_len")
        if vocab is None or max_len is None:
            raise WeightsError(f"{self.weights}: 'vocab' (JSON list of words) and 'max_len' (0-d integer) are required")
        if vocab[:2] != ["<pad>", "<unk>"]:
            raise WeightsError(f"{self.weights}: vocab[0] must be '<pad>' and vocab[1] '<unk>'")
        emb = weights.get("0.W")
        if emb is None or emb.shape[0] != len(vocab):
            raise WeightsError(f"{self.weights}: the embedding has {None if emb is None else emb.shape[0]} rows "
                               f"for a vocabulary of {len(vocab)} entries")
        index = {w: i for i, w in enumerate(vocab)}
        texts = data[0]
        ids = np.zeros((len(texts), max_len), dtype=np.int64)
        for r, text in enumerate(texts):
            kept = tokens_of(text)[-max_len:]
            ids[r, :len(kept)] = [index.get(w, UNK_ID) for w in kept]
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "max_flops": self.max_flops}
        return [Call("sentiment_logits", spec, {"weights": weights, "ids": ids})]

    def evaluate_outputs(self, outputs, meta, data):
        texts, y, download = data
        logits = outputs[0].get("logits")
        if type(logits) is not np.ndarray or logits.shape != y.shape or not np.isfinite(logits).all():
            raise WeightsError(f"the model gave logits of shape {getattr(logits, 'shape', None)}, expected {y.shape}, finite")
        p = 0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float64)))
        acc = float(np.mean((p > 0.5) == (y == 1)))
        credit = float(np.clip((acc - self.floor) / (self.target - self.floor), 0.0, 1.0))
        msg = (f"test accuracy {acc:.2%} on {len(y)} IMDB test reviews (every {self.stride}th) "
               f"(full credit at {self.target:.0%}, none at or below {self.floor:.0%})")
        leaked = self.leaked(meta["vocab"], download)
        if leaked:
            credit = 0.0
            msg += (f"; but the vocabulary holds {len(leaked)} words that never occur in the training split "
                    f"(such as {', '.join(leaked[:5])}): build it from the training reviews only, never from "
                    f"the test reviews (no credit)")
        wrong = np.flatnonzero((p > 0.5) != (y == 1))
        worst = wrong[np.argsort(-np.abs(p[wrong] - 0.5), kind="stable")][:self.shown]
        if len(worst):
            msg += "\nthe reviews your model is most confidently wrong about:"
            for r in worst:
                text = " ".join(texts[r].replace("<br />", " ").split())
                text = text if len(text) <= 300 else text[:297] + "..."
                msg += (f"\n  - truth {'positive' if y[r] == 1 else 'negative'}, p(positive) = {p[r]:.3f}: "
                        f"{json.dumps(text, ensure_ascii=False)}")
        return [CheckResult("test accuracy", credit >= 1.0, msg, credit=credit)]

    @staticmethod
    def leaked(vocab, download):
        """The vocabulary's words (past <pad> and <unk>) that never occur in the training split."""
        known = course_data("imdb_train_words")(download=download)
        return [w for w in vocab[2:] if w not in known]


ITEMS = [
    ReviewTextItem("sentiment.text.tokenize", 8, name="tokenize", kind="tokenize",
                   mutants=(Mutant("lower-case the text first, then replace every '<br />' with a space",
                                   {"tokenize": M + "tokenize_br_before_lower"}),
                            Mutant("a word is a run of letters and digits: '_' is not part of it",
                                   {"tokenize": M + "tokenize_w"}),
                            Mutant("keep the apostrophe inside a word (don't, it's): use the contract's WORD pattern",
                                   {"tokenize": M + "tokenize_split_apostrophes"}))),
    ReviewTextItem("sentiment.text.vocab", 10, name="build_vocab", kind="vocab",
                   mutants=(Mutant("words of equal count go in alphabetical order", {"build_vocab": M + "vocab_ties_by_first_seen"}),
                            Mutant("max_size counts <pad> and <unk> too", {"build_vocab": M + "vocab_size_without_specials"}),
                            Mutant("count every occurrence, not the number of lists a word is in",
                                   {"build_vocab": M + "vocab_document_frequency"}))),
    ReviewTextItem("sentiment.text.encode", 10, name="encode", kind="encode",
                   mutants=(Mutant("the padding goes after the real ids, not before them", {"encode": M + "encode_pad_front"}),
                            Mutant("a long list keeps its last max_len words, not its first", {"encode": M + "encode_keep_first"}),
                            Mutant("an unknown word is UNK_ID (1), not PAD_ID (0)", {"encode": M + "encode_unknown_as_pad"}))),
    LayerItem("sentiment.pool.forward", 8, name="MaskedMeanPool", module="pooling", part="forward", make=pool,
              shapes=POOL_SHAPES, state=pool_mask, out_shape=lambda kw, x: (x.shape[0], x.shape[2]),
              mutants=(Mutant("padded steps must not count: divide by the number of real steps, not by T",
                              {"MaskedMeanPool": M + "PoolCountsPadding"}),)),
    LayerItem("sentiment.pool.backward", 12, name="MaskedMeanPool", module="pooling", part="backward", make=pool,
              shapes=POOL_SHAPES, state=pool_mask, out_shape=lambda kw, x: (x.shape[0], x.shape[2]), visibility="hidden",
              mutants=(Mutant("padded steps must not count: divide by the number of real steps, not by T",
                              {"MaskedMeanPool": M + "PoolCountsPadding"}),
                       Mutant("no gradient flows to the padded steps: dx is 0 there", {"MaskedMeanPool": M + "PoolBackwardUnmasked"}))),
    FunctionItem("sentiment.model.loss", 22, name="classifier_loss", module="model", visibility="hidden",
                 cases=(("LSTM", classifier_case("LSTM"), np.float64, True),
                        ("LSTM, batch of 1, one step", classifier_case("LSTM", n=1, t=1), np.float64, True),
                        ("GRU", classifier_case("GRU"), np.float64, False),
                        ("LSTM, float32", classifier_case("LSTM"), np.float32, False)),
                 outputs=("loss", "grads"), wrt=tuple(f"params/{k}" for k in LOSS_KEYS),
                 grads=tuple(f"grads/{k}" for k in LOSS_KEYS), float64_only=True,
                 mutants=(Mutant("the padding must be masked out of the pooling (pooling_state gives the mask)",
                                 {"MaskedMeanPool": M + "PoolCountsPadding"}),)),
    SentimentAccuracyItem("sentiment.imdb.accuracy", 30, weights="sentiment_weights.npz", layers=MODEL_LAYERS,
                          timeout=120),
]
