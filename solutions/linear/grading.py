"""The `linear` assignment: logistic regression by gradient descent, SVM and softmax linear classifiers on CIFAR-10."""
import json
from dataclasses import dataclass, replace

import numpy as np

from grader.items import AccuracyItem, Call, Figure, FunctionItem, Mutant, WeightsError, cifar10_classes, randn

ORDER = 1  # the course's week
DATA = ("cifar10",)

M = "solutions/linear/mutants.py:"
KINK = 1e-3  # |margin| of every SVM case with a gradient check: finite differences never cross a kink


# --------------------------------------------------------------------------- case makers
def logistic(n, d=4):
    """w (D,), b (), X (N, D), labels y in {0., 1.}."""
    def make(rng, dtype):
        return ({"w": randn(rng, (d,), dtype), "b": np.asarray(rng.standard_normal(), dtype=dtype),
                 "X": randn(rng, (n, d), dtype), "y": rng.integers(0, 2, n).astype(dtype)}, {})
    return make


def saturated(n, d=4):
    """Logits far beyond exp's overflow: X about x1000 with every |z| >= 50; the largest logit
    is >= 750 with label 0 (p rounds to 1, against its label: the loss is about z and the
    gradient x / N, where an unstable log gives inf or nan) and, for N > 1, another row's is
    <= -750."""
    def make(rng, dtype):
        w, b = randn(rng, (d,)), float(np.clip(rng.standard_normal(), -3, 3))
        X = randn(rng, (n, d), scale=1000.0)
        for _ in range(100):
            near = np.abs(X @ w + b) < 50
            if not near.any():
                break
            X[near] = randn(rng, (int(near.sum()), d), scale=1000.0)
        X *= max(1.0, 1500.0 / np.abs(X @ w).max())
        k = int(np.argmax(np.abs(X @ w)))
        X[k] *= np.sign(X[k] @ w)          # z_k >= 1500 - 3
        if n > 1:
            X[(k + 1) % n] = -0.8 * X[k]   # z <= -1200 + 3
        y = rng.integers(0, 2, n).astype(np.float64)
        y[k] = 0.0
        return {"w": w.astype(dtype), "b": np.asarray(b, dtype=dtype), "X": X.astype(dtype),
                "y": y.astype(dtype)}, {}
    return make


def logits(shape, scale=3.0, extremes=False):
    def make(rng, dtype):
        z = randn(rng, shape, dtype, scale)
        if extremes:  # the limits themselves: exactly 0, past exp's overflow (+-710), far out
            z.flat[:7] = [0.0, 710.0, -710.0, 745.5, -745.5, 1000.0, -1000.0]
        return {"z": z}, {}
    return make


def gd_case(d, lr):
    def make(rng, dtype):
        return ({"w": randn(rng, (d,), dtype), "b": np.asarray(rng.standard_normal(), dtype=dtype),
                 "dw": randn(rng, (d,), dtype), "db": np.asarray(rng.standard_normal(), dtype=dtype)},
                {"lr": lr})
    return make


def _with_bias(X):
    X[:, -1] = 1.0  # the bias trick: the last column is ones
    return X


def classifier(n, d, c, reg, scale=1.0, svm=False):
    """W (D, C), X (N, D) with a last column of ones, labels y (N,); `scale` multiplies X. For the SVM,
    every margin is at least `KINK` away from 0 (X drawn again until it is), so finite differences
    never straddle a kink. At `scale` >= 1000 the rows are rescaled by `spread_rows`."""
    def make(rng, dtype):
        W = randn(rng, (d, c), dtype, 0.5)
        y = rng.integers(0, c, n)
        for _ in range(100):
            X = _with_bias(randn(rng, (n, d), dtype)) * dtype(scale)
            s = X.astype(np.float64) @ W
            margins = s - s[np.arange(n), y][:, None] + 1
            margins[np.arange(n), y] = 1.0
            if not svm or np.abs(margins).min() > KINK:
                break
        if scale >= 1000:
            X, y = spread_rows(X, W, y)
        return {"W": W, "X": X, "y": y}, {"reg": reg}
    return make


LARGE_ROW_MAX = 1000.0  # see `spread_rows`


def spread_rows(X, W, y):
    """(X, y) for a "scores x1000" case, by construction: row 0 of X flipped and rescaled so that its
    largest score M and its range are both at least LARGE_ROW_MAX, its label moved to its smallest
    score; row i > 0 flipped and rescaled so that its largest score is M + LARGE_ROW_MAX * i. So
    exp overflows in every row without a shift, rows 1000 apart underflow to 0 / 0 under a shift by
    the batch's maximum, and log of row 0's softmax probability at its label is log(0)."""
    X, y = X.astype(np.float64), y.copy()
    W64 = W.astype(np.float64)
    top = 0.0
    for i in range(len(X)):
        s = X[i] @ W64
        k = int(np.argmax(np.abs(s)))
        X[i] *= np.sign(s[k])            # now max_j s_ij = |s_ik| > 0
        s = X[i] @ W64
        if i == 0:
            factor = LARGE_ROW_MAX / min(s.max(), s.max() - s.min())
            y[0] = int(np.argmin(s))
        else:
            factor = (top + LARGE_ROW_MAX * i) / s.max()
        X[i] *= factor
        if i == 0:
            top = float((X[0] @ W64).max())
    return X.astype(W.dtype), y


def svm_ties(n=6, d=4, c=5, reg=0.0):
    """Scores on a grid of quarters (small integers times quarters: exact in float32 too), drawn
    until at least two margins s_j - s_y + 1 are exactly 0."""
    def make(rng, dtype):
        for _ in range(200):
            X = _with_bias(rng.integers(-2, 3, (n, d)).astype(dtype))
            W = (rng.integers(-4, 5, (d, c)) / 4).astype(dtype)
            y = rng.integers(0, c, n)
            s = X.astype(np.float64) @ W
            margins = s - s[np.arange(n), y][:, None] + 1
            margins[np.arange(n), y] = 1.0
            if (margins == 0).sum() >= 2:
                break
        return {"W": W, "X": X, "y": y}, {"reg": reg}
    return make


def predict_case(n, d, c, ties=False):
    """Random scores whose two best classes are at least 1e-3 apart or, with `ties`, integer
    inputs where some classes tie exactly for the best score."""
    def make(rng, dtype):
        if ties:
            W = rng.integers(-1, 2, (d, c)).astype(dtype)
            W[:, c - 1] = W[:, 1]    # class c-1 ties with class 1 on every sample,
            W[:, 2] = W[:, 0]        # class 2 with class 0
            return {"W": W, "X": rng.integers(-2, 3, (n, d)).astype(dtype)}, {}
        W = randn(rng, (d, c), dtype)
        for _ in range(100):
            X = randn(rng, (n, d), dtype)
            top = np.sort(X.astype(np.float64) @ W, axis=1)
            if (top[:, -1] - top[:, -2]).min() > 1e-3:
                break
        return {"W": W, "X": X}, {}
    return make


def sgd_case(n, d, c, reg, batch_size, steps, lr=0.5, loss="softmax"):
    def make(rng, dtype):
        args, _ = classifier(n, d, c, reg, svm=loss == "svm")(rng, dtype)
        args["W"] = args["W"] * dtype(0.1)
        return args, {"loss": loss, "reg": reg, "lr": lr, "batch_size": batch_size, "steps": steps}
    return make


def sgd_defaults(n=250, d=4, c=3):
    """Only W, X, y and rng: the contract's defaults (softmax, reg=0, lr=1e-3, batch 200, 100 steps); N >= 200,
    so code that draws batches without replacement runs (and is graded wrong by its values)."""
    def make(rng, dtype):
        args, _ = classifier(n, d, c, 0.0)(rng, dtype)
        return args, {}
    return make


F64, F32_ = np.float64, np.float32
LOGISTIC = (("random", logistic(6), F64, True), ("batch of 1", logistic(1, d=3), F64, True),
            ("float32", logistic(5), F32_, False))
SVM = (("random, reg=0.1", classifier(6, 5, 4, 0.1, svm=True), F64, True),
       ("batch of 1, odd sizes, reg=0", classifier(1, 7, 3, 0.0, svm=True), F64, True),
       ("float32, reg=0.05", classifier(5, 4, 3, 0.05, svm=True), F32_, False))
SOFTMAX = (("random, reg=0.1", classifier(6, 5, 4, 0.1), F64, True),
           ("batch of 1, odd sizes, reg=0", classifier(1, 7, 3, 0.0), F64, True),
           ("float32, reg=0.05", classifier(5, 4, 3, 0.05), F32_, False))
TIES = "ties at the margin: some s_j - s_y + 1 exactly 0 (they count nothing)"
LARGE = "scores x1000"
SGD_DEFAULTS = "defaults: only rng given (softmax, reg=0, lr=1e-3, 100 steps of batch 200)"
SVM_TIES = ((TIES, svm_ties(), F64, False),)
SOFTMAX_LARGE = ((LARGE, classifier(5, 5, 4, 0.0, scale=1000.0), F64, False),)

GLOBAL_MAX = ("subtract each row's own max score, not the batch's: a row whose max is far below the "
              "batch's underflows to 0 / 0")
NO_TWO = "the regularisation gradient is 2 * reg * W: d/dW of reg * sum(W * W)"
LOSS_OUTPUTS = dict(outputs=("loss", "dW"), wrt=("W",), grads=("dW",))


def loss_item(item_id, points, name, cases, mutants=(), visibility="public", **kwargs):
    return FunctionItem(item_id, points, visibility=visibility, name=name, module="linear", cases=cases,
                    mutants=mutants, **{**LOSS_OUTPUTS, **kwargs})


# --------------------------------------------------------------------------- trained classifiers
def draw_templates(W, title, fig):
    """Ten 32x32 colour images, the column of W[:-1] of each class, each scaled to [0, 1]."""
    t = np.asarray(W[:-1], dtype=np.float64).reshape(3, 32, 32, -1).transpose(3, 1, 2, 0)
    lo, hi = t.min(axis=(1, 2, 3), keepdims=True), t.max(axis=(1, 2, 3), keepdims=True)
    t = (t - lo) / np.maximum(hi - lo, 1e-12)
    for k, ax in enumerate(fig.subplots(2, 5).flat):
        ax.imshow(t[k], interpolation="nearest")
        ax.set_title(cifar10_classes()[k])
        ax.axis("off")
    fig.suptitle(title)


@dataclass(frozen=True)
class LinearAccuracyItem(AccuracyItem):
    """CIFAR-10 test accuracy of a linear classifier's weights, with its ten class templates.

    The weights file holds Flatten, then Linear 3072 -> 10 (`1.W` = W[:-1], `1.b` = the bias row
    W[-1]). Predictions come from `predict(W, X)` on the preprocessed, flattened test images with
    a column of ones: the reference's when grading, the student's own in `dlgrade check`. The
    feedback gets the templates drawn from the submitted weights (`figure`).
    """
    modules: tuple = ("linear",)
    layers: tuple = ("Flatten", "Linear")
    figure: str = ""

    def check_arch(self, arch):
        super().check_arch(arch)
        want = [{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 10}]
        if arch != want:
            raise WeightsError(f"{self.weights}: the model must be exactly {json.dumps(want)} (a linear "
                               f"classifier on the 3072 pixels), not {json.dumps(arch)}")

    def calls_for(self, arch, weights, meta, data):
        W, b = weights.get("1.W"), weights.get("1.b")
        if W is None or b is None or W.shape != (3072, 10) or b.shape != (10,):
            raise WeightsError(f"expected arrays 1.W (3072, 10) and 1.b (10,), got "
                               f"{', '.join(f'{k} {v.shape}' for k, v in sorted(weights.items())) or 'none'}")
        W = np.concatenate([W, b[None]]).astype(np.float32)
        x = data[0].reshape(len(data[0]), -1)
        X = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
        meta["W"] = W  # for the figure: validated, from the parent's own copy of the file
        return [Call("function", {"module": "linear", "name": "predict", "args": ["W", "X"], "kwargs": {}},
                     {"W": W, "X": X})]

    def evaluate_outputs(self, outputs, meta, data):
        (result,) = super().evaluate_outputs([{"pred": outputs[0].get("out")}], meta, data)
        name = self.id.split(".")[1]
        title = f"{name} classifier: the columns of W as images ({result.message.split(' on ')[0]})"
        figure = Figure(self.figure, f"the learned weights of {self.weights} as ten 32x32 class templates",
                        lambda fig, W=meta["W"]: draw_templates(W, title, fig), size=(10.0, 4.6))
        return [replace(result, figures=(figure,))]


# --------------------------------------------------------------------------- items
ITEMS = [
    FunctionItem("linear.logistic.sigmoid", 4, name="sigmoid", module="logistic", outputs=("sigmoid(z)",),
             cases=(("random", logits((4, 5)), F64, False), ("batch of 1", logits((1, 3)), F64, False),
                    ("large |z| (x1000), with 0, +-710, +-745.5, +-1000", logits((3, 6), 1000.0, True), F64, False),
                    ("float32", logits((3, 4)), F32_, False)),
             mutants=(Mutant("exp(z) / (1 + exp(z)) overflows to inf / inf for z > 709: use exp(-|z|)",
                             {"sigmoid": M + "sigmoid_exp_ratio"}),)),
    FunctionItem("linear.logistic.mse_loss", 8, name="logistic_mse_loss", module="logistic", cases=LOGISTIC,
             outputs=("loss", "dw", "db"), wrt=("w", "b"), grads=("dw", "db"),
             mutants=(Mutant("the chain rule goes through the sigmoid: dz = 2 (p - y) p (1 - p) / N",
                             {"logistic_mse_loss": M + "mse_no_sigmoid_derivative"}),
                      Mutant("d/dp (p - y)^2 = 2 (p - y): the factor 2 is missing",
                             {"logistic_mse_loss": M + "mse_no_factor_two"}))),
    FunctionItem("linear.logistic.log_loss", 6, name="logistic_log_loss", module="logistic", cases=LOGISTIC,
             outputs=("loss", "dw", "db"), wrt=("w", "b"), grads=("dw", "db"),
             mutants=(Mutant("for the log loss the sigmoid's derivative cancels: dz = (p - y) / N",
                             {"logistic_log_loss": M + "log_loss_sigmoid_derivative"}),)),
    FunctionItem("linear.logistic.log_loss.stable", 2, visibility="hidden", name="logistic_log_loss",
             module="logistic", float64_only=True, outputs=("loss", "dw", "db"),
             cases=(("logits x1000 (some beyond +-750, every |z| >= 50)", saturated(6), F64, False),
                    ("logits x1000, batch of 1 (z >= 750, label 0)", saturated(1, d=3), F64, False)),
             mutants=(Mutant("log(sigmoid(z)) is -inf once sigmoid(z) rounds to 0 or 1: write the loss as "
                             "softplus(z) - y z", {"logistic_log_loss": M + "log_loss_unstable"}),)),
    FunctionItem("linear.logistic.gd_step", 4, name="gd_step", module="logistic", outputs=("w", "b"),
             cases=(("lr=0.1", gd_case(5, 0.1), F64, False), ("one feature, lr=0.5", gd_case(1, 0.5), F64, False),
                    ("float32, lr=0.1", gd_case(4, 0.1), F32_, False)),
             mutants=(Mutant("gradient descent steps against the gradient: w - lr * dw",
                             {"gd_step": M + "gd_ascent"}),)),
    loss_item("linear.svm.loops", 7, "svm_loss_loops", SVM + SVM_TIES,
              mutants=(Mutant("the correct class is counted in the sum: skip j == y (its margin is always 1)",
                              {"svm_loss_loops": M + "svm_counts_correct_class"}),
                       Mutant("a margin of exactly 0 counts nothing: use margin > 0, not >= 0",
                              {"svm_loss_loops": M + "svm_margin_zero_counts"}),
                       Mutant(NO_TWO, {"svm_loss_loops": M + "svm_reg_no_factor_two"}))),
    loss_item("linear.svm.vectorized", 10, "svm_loss", SVM,
              mutants=(Mutant("the correct class is counted in the sum: zero its margin (it is always 1)",
                              {"svm_loss": M + "svm_counts_correct_class"}),
                       Mutant(NO_TWO, {"svm_loss": M + "svm_reg_no_factor_two"}))),
    loss_item("linear.svm.ties", 3, "svm_loss", SVM_TIES, visibility="hidden",
              mutants=(Mutant("a margin of exactly 0 counts nothing: use margins > 0, not >= 0",
                              {"svm_loss": M + "svm_margin_zero_counts"}),)),
    loss_item("linear.softmax.loops", 7, "softmax_loss_loops", SOFTMAX + SOFTMAX_LARGE, scaled=(LARGE,),
              mutants=(Mutant("exp overflows for scores in the thousands: subtract each row's max score first",
                              {"softmax_loss_loops": M + "softmax_no_max_subtraction"}),
                       Mutant(GLOBAL_MAX, {"softmax_loss_loops": M + "softmax_global_max"}),
                       Mutant(NO_TWO, {"softmax_loss_loops": M + "softmax_reg_no_factor_two"}))),
    loss_item("linear.softmax.vectorized", 10, "softmax_loss", SOFTMAX,
              mutants=(Mutant(NO_TWO, {"softmax_loss": M + "softmax_reg_no_factor_two"}),)),
    loss_item("linear.softmax.stable", 3, "softmax_loss", SOFTMAX_LARGE + (
        (LARGE + ", batch of 1", classifier(1, 4, 3, 0.0, scale=1000.0), F64, False),), visibility="hidden",
        float64_only=True,
        mutants=(Mutant("exp overflows for scores in the thousands: subtract each row's max score first",
                        {"softmax_loss": M + "softmax_no_max_subtraction"}),
                 Mutant(GLOBAL_MAX, {"softmax_loss": M + "softmax_global_max"}))),
    FunctionItem("linear.predict", 4, name="predict", module="linear", outputs=("predict(W, X)",),
             cases=(("random", predict_case(8, 5, 4), F64, False),
                    ("tied best scores (the lowest class wins)", predict_case(6, 4, 5, ties=True), F64, False),
                    ("float32", predict_case(5, 3, 3), F32_, False)),
             mutants=(Mutant("ties go to the lowest class index (np.argmax), not the last",
                             {"predict": M + "predict_last_max"}),)),
    FunctionItem("linear.train_sgd", 8, name="train_sgd", module="linear", seeded=True, outputs=("W", "history"),
             cases=(("softmax, reg=0.1, 6 steps of batch 4", sgd_case(20, 5, 3, 0.1, 4, 6), F64, False),
                    ("svm, reg=0.1, 6 steps of batch 4", sgd_case(20, 5, 3, 0.1, 4, 6, loss="svm"), F64, False),
                    ("softmax, reg=0, 4 steps of batch 1", sgd_case(9, 4, 3, 0.0, 1, 4), F64, False),
                    ("svm, reg=0, 4 steps of batch 1", sgd_case(9, 4, 3, 0.0, 1, 4, loss="svm"), F64, False),
                    (SGD_DEFAULTS, sgd_defaults(), F64, False),
                    ("float32, softmax, reg=0.05, 5 steps of batch 3", sgd_case(12, 4, 3, 0.05, 3, 5), F32_, False)),
             note="train_sgd calls your softmax_loss and svm_loss: if linear.softmax.vectorized or "
                  "linear.svm.vectorized fails too, fix it first",
             mutants=(Mutant("`loss` selects the loss: \"svm\" trains with svm_loss, \"softmax\" with softmax_loss",
                             {"train_sgd": M + "sgd_always_softmax"}),
                      Mutant("draw each batch with rng.integers(0, N, size=batch_size) (with replacement), "
                             "not rng.choice(N, batch_size, replace=False)", {"train_sgd": M + "sgd_without_replacement"}),
                      Mutant("history[t] is the batch loss before step t's update, not after",
                             {"train_sgd": M + "sgd_history_after_update"}))),
    LinearAccuracyItem("linear.softmax.accuracy", 12, weights="softmax_weights.npz", floor=0.30, target=0.40,
                       timeout=120, figure="softmax_templates.png"),
    LinearAccuracyItem("linear.svm.accuracy", 12, weights="svm_weights.npz", floor=0.30, target=0.39,
                       timeout=120, figure="svm_templates.png"),
]
