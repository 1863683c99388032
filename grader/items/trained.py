"""Trained models, evaluated from the submitted weights in the trusted process (`TrustedItem`): a
CIFAR-10 classifier's test accuracy and a character model's held-out loss."""
import json
from dataclasses import dataclass

import numpy as np

from grader.items.base import TrustedItem
from grader.items.checks import CheckResult
from grader.sandbox.calls import Call


def load_cifar10(split, *, download: bool = True):
    """CIFAR-10 images and labels of `split` (`grader.data.load_cifar10`), read on first use: for a
    course's `TrustedItem.test_set` (which passes its `download` on)."""
    from grader.data import load_cifar10 as load
    return load(split, download=download)


def course_data(name):
    """The course's data loader or constant `name` (declared in `solutions/datasets.py`), looked up
    on use: for a course's `TrustedItem.test_set` and checks of its own, reading a dataset the
    grader does not name (`course_data("load_temperatures")(download=download)`)."""
    from grader.student import data
    return getattr(data, name)


def cifar10_classes():
    """The ten CIFAR-10 class names, in label order."""
    from grader.data import CIFAR10_CLASSES
    return CIFAR10_CLASSES


@dataclass(frozen=True)
class AccuracyItem(TrustedItem):
    """Test accuracy of the submitted weights, with linear partial credit from `floor` to `target`.

    Graded in the trusted parent with the reference layers; `dlgrade check` runs the student's
    own layers in a worker instead (`calls`).
    """
    floor: float = 0.0
    target: float = 1.0
    modules: tuple = ("layers",)  # where `dlgrade check` finds the student's layer classes
    layers: tuple = ()            # the layer types this assignment's model may use
    max_flops: float = 0.0        # a tighter FLOPs bound for its evaluation (0: drivers.MAX_EVAL_FLOPS)

    def check_arch(self, arch):
        """Refuse a model built from layers this assignment does not teach (a CNN for the MLP)."""
        from grader.items.models import WeightsError
        for i, layer in enumerate(arch):
            if layer["type"] not in self.layers:
                raise WeightsError(f"{self.weights}: layer {i} is a {layer['type']}, which this assignment's model "
                                   f"may not use (allowed: {', '.join(self.layers)})")

    def test_set(self, *, download: bool = True):
        from grader.student.data import cifar10_test_set
        return cifar10_test_set(download=download)

    def calls_for(self, arch, weights, meta, data):
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "max_flops": self.max_flops}
        return [Call("predict", spec, {"weights": weights, "x": data[0]})]

    def evaluate_outputs(self, outputs, meta, data):
        from grader.items.models import accuracy
        labels = data[1]
        acc = accuracy(outputs[0].get("pred"), labels)
        credit = float(np.clip((acc - self.floor) / (self.target - self.floor), 0.0, 1.0))
        msg = (f"test accuracy {acc:.2%} on {len(labels)} CIFAR-10 test images "
               f"(full credit at {self.target:.0%}, none at or below {self.floor:.0%})")
        return [CheckResult("test accuracy", credit >= 1.0, msg, credit=credit)]


# --------------------------------------------------------------------------- language models
@dataclass(frozen=True)
class TextItem(AccuracyItem):
    """Held-out loss of a trained character model in nats per character, with samples shown.

    Full credit at <= `target` nats/char, none at >= `floor`, linear in between.
    """
    corpus: str = "names"  # or "shakespeare"
    modules: tuple = ("rnn", "layers")
    chunk: int = 128

    def test_set(self, *, download: bool = True):
        from grader.student.data import load_names, load_shakespeare
        if self.corpus == "names":
            return load_names(download=download)["test"]
        return load_shakespeare(download=download)["test"]

    def encode(self, vocab, text):
        """(inputs, targets) int arrays; names: '.name.' rows padded with targets -1."""
        from grader.items.models import WeightsError
        index = {c: i for i, c in enumerate(vocab)}
        chars = set("".join(text))
        missing = sorted(chars - set(index))
        if missing:
            raise WeightsError(f"vocab lacks characters of the test text: {''.join(missing)!r}")
        if self.corpus == "names":
            if vocab[0] != ".":
                raise WeightsError("for names, vocab[0] must be '.', the start and end token")
            width = max(map(len, text)) + 1
            x = np.zeros((len(text), width), np.int64)
            y = np.full((len(text), width), -1, np.int64)
            for r, name in enumerate(text):
                ids = [0] + [index[c] for c in name] + [0]
                x[r, :len(ids) - 1] = ids[:-1]
                y[r, :len(ids) - 1] = ids[1:]
            return x, y
        ids = np.array([index[c] for c in text], np.int64)
        streams = 16
        length = (len(ids) - 1) // streams
        x = ids[:streams * length].reshape(streams, length)
        y = ids[1:streams * length + 1].reshape(streams, length)
        return x, y

    def calls_for(self, arch, weights, meta, text):
        if "vocab" not in meta:
            from grader.items.models import WeightsError
            raise WeightsError(f"{self.weights}: a 'vocab' entry (JSON list of characters) is required")
        if not all(len(c) == 1 for c in meta["vocab"]):
            from grader.items.models import WeightsError
            raise WeightsError(f"{self.weights}: 'vocab' must be a JSON list of distinct single characters")
        x, y = self.encode(meta["vocab"], text)
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "chunk": self.chunk,
                "batch": 256 if self.corpus == "names" else len(x), "max_flops": self.max_flops}
        start = 0 if self.corpus == "names" else meta["vocab"].index("\n") if "\n" in meta["vocab"] else 0
        sample = {"arch": spec["arch"], "modules": spec["modules"], "sampler_module": "text", "seed": 0,
                  "n": 8 if self.corpus == "names" else 1, "length": 16 if self.corpus == "names" else 300,
                  "start": start, "max_flops": self.max_flops}
        return [Call("text_nll", spec, {"weights": weights, "inputs": x, "targets": y}),
                Call("generate", sample, {"weights": weights})]

    def evaluate_outputs(self, outputs, meta, text):
        nll, count = float(outputs[0]["nll"]), int(outputs[0]["count"])
        nats = nll / max(count, 1)
        credit = float(np.clip((self.floor - nats) / (self.floor - self.target), 0.0, 1.0))
        vocab = meta["vocab"]
        tokens = np.asarray(outputs[1].get("tokens", np.zeros((0, 0), np.int64)))
        if self.corpus == "names":
            samples = ["".join(vocab[t] for t in row).split(".")[0] for row in tokens.tolist()]
            shown = ", ".join(samples)
        else:
            shown = "\n    " + "".join(vocab[t] for t in tokens[0].tolist()).replace("\n", "\n    ")
        msg = (f"{nats:.4f} nats/char on {count} held-out characters "
               f"(full credit at <= {self.target:.2f}, none at >= {self.floor:.2f}); samples: {shown}")
        return [CheckResult("held-out loss", credit >= 1.0, msg, credit=credit)]
