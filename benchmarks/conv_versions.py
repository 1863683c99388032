"""Two versions of the reference Conv2d side by side, in one process: before and after a change.

    git worktree add /tmp/old <commit>      # or: mkdir /tmp/old && git archive <commit> reference | tar -x -C /tmp/old
    python benchmarks/conv_versions.py /tmp/old [--layers 0,4] [--rounds 30] [--burst 4]

Loads the `reference` package of OLD (a folder holding reference/) under another name next to
this tree's, and for each chosen layer of benchmarks/conv.py's LAYERS (indices, default all)
times forward+backward (float32, N=64) of the old and the new Conv2d in interleaved bursts of
`--burst` steps, counting the second half of each burst, `--rounds` rounds after one warm-up
round. Prints the median of each and new/old. Threads as in benchmarks/conv.py
(OPENBLAS_NUM_THREADS); glibc keeps freed memory unless `--malloc-default`.
"""
import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def load_reference(folder, name="reference_old"):
    """The reference package of `folder` as module `name` (its conv module: `name`.conv)."""
    spec = importlib.util.spec_from_file_location(name, Path(folder) / "reference" / "__init__.py",
                                                  submodule_search_locations=[str(Path(folder) / "reference")])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.conv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="a folder holding the old reference/ package")
    ap.add_argument("--layers", default=None, help="indices into benchmarks/conv.py's LAYERS, e.g. 0,4")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=4)
    ap.add_argument("--malloc-default", dest="keep", action="store_false",
                    help="leave glibc returning freed memory to the system")
    args = ap.parse_args()
    if not (Path(args.old) / "reference" / "__init__.py").is_file():
        ap.error(f"{args.old} holds no reference/ package")
    if args.keep:
        from grader.student.training import keep_freed_memory
        args.keep = keep_freed_memory()
    import reference.conv as new
    old = load_reference(args.old)
    from conv import LAYERS, N, machine, make
    print(machine())
    picked = [LAYERS[int(i)] for i in args.layers.split(",")] if args.layers else LAYERS
    print(f"old: {Path(args.old).resolve()}, new: {ROOT}; float32, N={N}; {args.rounds} rounds of bursts of "
          f"{args.burst} (second half counted); malloc keeps freed memory: {args.keep}")
    for c, f, h, w, k, s, p in picked:
        _, params, x, dy = make(N, c, f, h, w, k, s, p)
        steps = {}
        for name, module in (("old", old), ("new", new)):
            layer = module.Conv2d(in_channels=c, out_channels=f, kernel_size=k, stride=s, padding=p)

            def step(layer=layer):
                y, cache = layer.forward(x, params, train=True)
                layer.backward(dy, cache)
            steps[name] = step
        times = {name: [] for name in steps}
        for rnd in range(args.rounds + 1):  # round 0 warms up
            for name, step in steps.items():
                for b in range(args.burst):
                    start = time.perf_counter()
                    step()
                    if rnd and b >= args.burst // 2:
                        times[name].append(time.perf_counter() - start)
        o, n_ = (statistics.median(times[name]) * 1e3 for name in ("old", "new"))
        print(f"{c}->{f} {h}x{w} k{k} s{s} p{p}: old {o:.2f} ms, new {n_:.2f} ms, new/old {n_ / o:.2f}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
