"""What students receive never states a backward result (issue 21): deriving it is the exercise.

The scanner looks for the reference's gradient expressions in everything a student reads: the
released stubs (`assignments/**`), every text file of each assignment's kit (`dlgrade release A
--kit`: `CONTRACT.md`, `README.md`, the stubs, notebooks when there are some) and the public docs
(`docs/*.md`). Its patterns come from two sources:
- `reference/`: the right-hand sides of the assignments to gradient names (`dx`, `dW`, `db`,
  `dgamma`, `dscores`, `da`, ...) and the returned gradients inside every `*backward*` function,
  the gradients the `linear` functions compute, and the `dname = ...` statements of the
  reference's docstrings;
- a short hand list of phrasings (`dy @ W.T`, `x.T @ dy`, `y * (1 - y)`, `(softmax(s) -
  one_hot(y)) / N`, ...), the forms the stubs used to state.
Text is compared normalised: no whitespace, backticks or `#`, no `xp.`/`np.`/`numpy.`/`self.`
prefixes. The instructor-only notes `solutions/<a>/derivations.md` hold the derivations: the
scanner finds results in every one of them (so the patterns are not vacuous), and none of them
is released.
"""
import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("linear", "mlp", "cnn", "autoencoder", "rnn", "sentiment")
GRADIENT = re.compile(r"^d$|^d(?!type$|ata$|iff$|evice$|ims?$|efault$|one$|ist$|elta$|ecay$|rop)[A-Za-z_]\w*$")
PREFIX = re.compile(r"\b(?:xp|np|numpy|self)\.")
TEXT = {".py", ".md", ".ipynb", ".txt", ".json"} - {".json"}
MIN_LENGTH = 9  # shorter normalised expressions (`dy*m`, `dc*f`) say too little to be a result

# The phrasings the stubs, CONTRACT.md and docs used before issue 21, as regular expressions on
# normalised text: each one is a backward result, never a forward definition.
HAND = {
    "Linear dx": r"dy@W\.T",
    "Linear dW": r"x\.T@dy",
    "Linear db": r"db=sumofdy",
    "sigmoid derivative": r"d\w*=dy\*y\*\(1-y\)|dp/dz=p\(1-p\)",
    "tanh derivative": r"dy\*\(1-y(\*\*2|\^2|\*y)\)|1-h_next\^2",
    "softmax Jacobian-vector product": r"y\*\(dy-(sum_j)?dy_j\*y_j",
    "log-softmax backward": r"dy-softmax\(x\)\*sum_jdy_j",
    "softmax cross-entropy gradient": r"softmax\(s\)-one_?hot\(y\)|\(P-Y\)/N|p_j-\[j==y_n\]",
    "BCE gradient": r"\(sigmoid\(s\)-t\)/N",
    "MSE gradient": r"dscores=2\(s-t\)/N|2\(p_n-y_n\)/N|2\(p-y\)p\(1-p\)",
    "MAE gradient": r"sign\(s-t\)/N",
    "NLL gradient": r"-1/Natea?c?h?sample'?s?label",
    "KL gradient": r"dscores=-p/N",
    "L2 gradient": r"2\*reg\*W",
    "BatchNorm dx": r"inv_std\*\(g-mean\(g\)|dy-dbeta/M",
    "BatchNorm dgamma": r"dgamma=sum\(dy\*x_hat\)",
    "dropout backward": r"dx=dy\*mask",
    "average pooling backward": r"dy/\(KH\*KW\)",
    "im2col gradients": r"dW=dy@cols\.T|dcols=W\.T@dy|col2im\(W\.T@dy\)",
    "transposed-conv gradients": r"dx=W\.reshape\(C,-1\)@dcols|dW=x2@dcols\.T",
    "SVM gradient": r"dW\[:,j\]\+=x_n|dW\[:,y_n\]-=x_n",
    "logistic gradient": r"dloss/dz_n=\(p_n-y_n\)/N|dz=\(p-y\)/N",
    "RNN step gradient": r"da=dh_next\*",
    "LSTM cell gradient": r"dc'\+dh'\*o\*\(1-tanh\(c'\)\^2\)",
    "GRU gradient": r"d\(hWh_n\+bh_n\)=dn_pre\*r",
    "upsample backward": r"dxsumsdyoverthatblock|dxisthe\*\*sum\*\*ofdy",
    "SGNS derivative": r"itsderivativeis-sigmoid\(-s\)",
}


def normalise(text: str) -> str:
    return PREFIX.sub("", re.sub(r"[\s`#]+", "", text))


# Names of sizes and offsets: arithmetic on them alone is geometry, not a gradient.
SIZES = {"H", "Wd", "KH", "KW", "s", "p", "N", "C", "F", "Ho", "Wo", "n0", "n1", "n", "m", "hq", "wq",
         "i", "j", "k", "start", "width", "per_sample", "share", "output_padding", "B", "T", "D",
         "sh", "sw", "sn", "sf", "self"}
# Modules with no gradient: update rules and draws are forward definitions the stubs state.
NO_GRADIENTS = {"optim.py", "init.py", "backend.py", "parallel.py", "text.py", "__init__.py"}


def _names(node):
    """The names `node` computes with, leaving out slices and `.shape`-like attributes."""
    if isinstance(node, ast.Subscript):
        return _names(node.value)
    if isinstance(node, ast.Attribute):
        return set() if node.attr in ("shape", "nbytes", "itemsize", "dtype", "ndim", "size") else _names(node.value)
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Call):  # the arguments, not the function's name
        return set().union(*[_names(a) for a in node.args + [k.value for k in node.keywords]])
    return set().union(*[_names(child) for child in ast.iter_child_nodes(node)])


def _is_formula(value):
    """Whether `value` does arithmetic on something other than sizes (outside slices)."""
    if isinstance(value, ast.Subscript):
        return _is_formula(value.value)
    if isinstance(value, ast.BinOp) and _names(value) - SIZES:
        return True
    return any(_is_formula(child) for child in ast.iter_child_nodes(value) if not isinstance(child, ast.slice))


def _gradient_values(fn):
    """The expressions `fn` computes as gradients: assignments to gradient names anywhere, and in
    a *backward* function every assignment, returned value and dict value."""
    backward = "backward" in fn.name
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if backward or any(GRADIENT.match(n) for n in names):
                yield node.value
        elif backward and isinstance(node, ast.Return) and node.value is not None:
            yield node.value
        if backward and isinstance(node, ast.Dict):
            yield from (v for v in node.values if v is not None)
        if backward and isinstance(node, (ast.Tuple, ast.List)):
            yield from node.elts


def reference_patterns() -> dict:
    """{normalised expression: where in reference/ it comes from}."""
    out = {}
    for path in sorted(p for p in (ROOT / "reference").glob("*.py") if p.name not in NO_GRADIENTS):
        tree = ast.parse(path.read_text())
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for value in _gradient_values(fn):
                text = normalise(ast.unparse(value))
                if len(text) >= MIN_LENGTH and _is_formula(value):
                    out.setdefault(text, f"reference/{path.name}:{value.lineno} ({fn.name})")
            doc = ast.get_docstring(fn) or ""
            for name, rhs in re.findall(r"\b(d[A-Za-z_]\w*)\s*=\s*([^,;]+)", doc):
                text = normalise(re.split(r"\b(?:there|with|at|for|where|if)\b", rhs)[0]).rstrip(".")
                if GRADIENT.match(name) and len(text) >= MIN_LENGTH:
                    out.setdefault(f"{name}={text}", f"reference/{path.name} docstring of {fn.name}")
    return out


PATTERNS = reference_patterns()


def findings(name: str, text: str) -> list:
    """["name:line: what it states", ...] for every gradient expression in `text`."""
    flat = normalise(text)
    lines = text.splitlines()
    out = []

    def where(match_in):
        for number, line in enumerate(lines, 1):
            if match_in(normalise(line)):
                return f"{name}:{number}"
        return name  # the expression spans lines

    for expr, origin in PATTERNS.items():
        if expr in flat:
            out.append(f"{where(lambda s: expr in s)}: {expr!r} (the reference's {origin})")
    for label, pattern in HAND.items():
        if re.search(pattern, flat):
            out.append(f"{where(lambda s: re.search(pattern, s))}: {label} ({pattern!r})")
    return out


def scan(paths, base: Path) -> list:
    out = []
    for path in paths:
        out += findings(str(path.relative_to(base)), path.read_text(errors="replace"))
    return out


def released_files():
    return [p for p in sorted((ROOT / "assignments").rglob("*"))
            if p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts]


def test_the_scanner_knows_every_layer_and_loss():
    """Patterns from every reference module that has a backward, and from the hand list."""
    origins = " ".join(PATTERNS.values())
    for module in ("layers", "losses", "conv", "autoencoder", "rnn", "linear", "word2vec"):
        assert f"reference/{module}.py" in origins, module
    assert len(PATTERNS) > 40, sorted(PATTERNS)


def test_released_stubs_state_no_backward_formula():
    files = released_files()
    assert any(p.name == "layers.py" for p in files) and any(p.name == "rnn.py" for p in files)
    found = scan(files, ROOT)
    assert not found, "\n".join(found)


def test_public_docs_state_no_backward_formula():
    found = scan(sorted((ROOT / "docs").glob("*.md")), ROOT)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_kit_states_no_backward_formula_and_holds_no_derivations(tmp_path, assignment):
    kit = tmp_path / f"{assignment}.zip"
    run = subprocess.run([sys.executable, "-m", "grader.cli", "release", assignment, "--kit", str(kit)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(kit) as z:
        names = z.namelist()
        assert {f"{assignment}/CONTRACT.md", f"{assignment}/README.md"} <= set(names), names
        assert not [n for n in names if Path(n).name in ("derivations.md", "grading.py", "mutants.py")], names
        found = []
        for member in names:
            if Path(member).suffix in TEXT:
                found += findings(member, z.read(member).decode("utf-8", "replace"))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_derivations_are_instructor_only_and_state_the_results(assignment):
    """Each solutions/<a>/derivations.md exists, is never released, and the scanner finds its results."""
    notes = ROOT / "solutions" / assignment / "derivations.md"
    assert notes.is_file()
    assert not (ROOT / "assignments" / assignment / "derivations.md").exists()
    assert findings(str(notes), notes.read_text())


# Docstrings the stubs held before issue 21: planted into a copy of a released stub, each is found.
TODAYS = {
    "linear": ("layers.py", '        """dx = dy @ W.T, dW = x.T @ dy, db = sum of dy over the batch."""\n'),
    "softmax": ("layers.py", '        """dx = y * (dy - sum_j dy_j * y_j), a Jacobian-vector product per row."""\n'),
    "batchnorm": ("layers.py", "        Notes: with x_hat the normalised input and g = dy * gamma, at train time\n"
                               "        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), means over the batch.\n"),
    "sigmoid": ("layers.py", '        """dx = dy * y * (1 - y)."""\n'),
    "cross-entropy": ("losses.py", "    Hint: use the log-sum-exp trick; the gradient is (softmax(s) - one_hot(y)) / N.\n"),
    "reference code": ("layers.py", "        # dx = inv_std * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))\n"),
}


@pytest.mark.parametrize("planted", sorted(TODAYS), ids=sorted(TODAYS))
def test_a_planted_backward_formula_is_reported(tmp_path, planted):
    name, text = TODAYS[planted]
    stub = (ROOT / "assignments" / "mlp" / name).read_text()
    assert not findings(name, stub)
    lines = stub.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "def backward" in line) + 1
    copy = tmp_path / name
    copy.write_text("".join(lines[:at] + [text] + lines[at:]))
    found = scan([copy], tmp_path)
    planted_lines = {f"{name}:{at + 1 + k}:" for k in range(text.count("\n"))}
    assert found and found[0].split(" ")[0] in planted_lines, found
