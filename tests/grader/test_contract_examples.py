"""The contract's examples run as written against `reference/` (issue 19, class 6).

docs/contracts.md states rules in prose; where the wording carries a rule, a short example shows
it, in a fenced block whose info string is ``python example`` (not a first line ``# example``:
the kit splits the contract into sections at lines that start with "# ", see
`grader.release.kit.contract`). Each example runs with ``np`` and every public name of the reference
modules in scope (the names students use: ``ConvTranspose2d``, ``svm_loss``, ...) and must not
raise. The examples show forward rules only: what students receive never states a backward formula.
Where PyTorch is installed, the ConvTranspose2d output_padding rule is also checked against it.
"""
import importlib
import re
from pathlib import Path

import numpy as np
import pytest

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
MODULES = ("linear", "layers", "losses", "optim", "init", "conv", "autoencoder", "rnn", "text", "word2vec", "sentiment")
FENCE = re.compile(r"^```python example\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples(text):
    """[(section heading, line number, code)] of every ```python example block of `text`."""
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()]
        heading = re.findall(r"(?m)^# (.*)$", re.sub(r"(?ms)^```.*?^```$", "", before))
        out.append((heading[-1] if heading else "", before.count("\n") + 2, m.group(1)))
    return out


def namespace():
    ns = {"np": np}
    for name in MODULES:
        module = importlib.import_module(f"reference.{name}")
        ns.update({k: v for k, v in vars(module).items() if not k.startswith("_") and k != "LAYERS"})
    ns["np"] = np
    return ns


EXAMPLES = examples(CONTRACTS.read_text())


def test_every_assignment_section_has_examples():
    sections = {re.search(r"the `(\w+)` assignment", h, re.I).group(1) for h, _, _ in EXAMPLES
                if re.search(r"the `(\w+)` assignment", h, re.I)}
    assert {"linear", "mlp", "cnn", "autoencoder", "rnn", "sentiment"} <= sections


def test_examples_keep_the_sections_whole():
    """No line of an example starts with "# ": the kit would start a new section there."""
    for _, line, code in EXAMPLES:
        assert not re.search(r"(?m)^# ", code), f"contracts.md:{line}: a line starts with '# '"
    assert len(re.findall(r"(?m)^# ", CONTRACTS.read_text())) == 6


def test_examples_state_no_backward():
    for heading, line, code in EXAMPLES:
        assert ".backward(" not in code and "step_backward" not in code, f"contracts.md:{line} calls a backward"


@pytest.mark.parametrize("heading, line, code", EXAMPLES, ids=[f"line{line}" for _, line, _ in EXAMPLES])
def test_example_runs_against_reference(heading, line, code):
    exec(compile(code, f"docs/contracts.md:{line}", "exec"), namespace())


def test_a_wrong_rule_fails_its_example():
    """The examples can fail: the ConvTranspose2d example against a layer that adds output_padding
    after cropping padding from every side (the sentence the contract used to say)."""
    import reference.autoencoder as A

    class AfterCrop(A.ConvTranspose2d):
        def forward(self, x, params, *, train=False, rng=None, state=None):
            op, self.output_padding = self.output_padding, 0
            try:
                y, cache = super().forward(x, params)
            finally:
                self.output_padding = op
            out = np.broadcast_to(params["b"].reshape(-1, 1, 1), (*y.shape[:2], y.shape[2] + op, y.shape[3] + op))
            out = out.copy()
            out[:, :, :y.shape[2], :y.shape[3]] = y
            return out, cache

    code = next(c for _, _, c in EXAMPLES if "ConvTranspose2d(" in c and "output_padding" in c)
    exec(compile(code, "example", "exec"), namespace())
    with pytest.raises(AssertionError):
        exec(compile(code, "example", "exec"), {**namespace(), "ConvTranspose2d": AfterCrop})


@pytest.mark.parametrize("stride, padding, output_padding", [(2, 1, 1), (3, 1, 2), (3, 2, 1), (2, 0, 1), (3, 0, 2)])
def test_output_padding_as_pytorch(stride, padding, output_padding):
    torch = pytest.importorskip("torch")
    import reference.autoencoder as A
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(2, 3, 3, 4)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=2)
    y, _ = A.ConvTranspose2d(in_channels=3, out_channels=2, kernel_size=(3, 2), stride=stride, padding=padding,
                             output_padding=output_padding).forward(x, {"W": W, "b": b})
    t = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(W), torch.tensor(b), stride=stride,
                                             padding=padding, output_padding=output_padding).numpy()
    np.testing.assert_allclose(y, t, rtol=1e-10, atol=1e-12)
