"""Accuracy of the training chain, end to end, as a user runs it: prints figures, asserts nothing.

    python benchmarks/train_accuracy.py                  # keima3 and newgame8
    python benchmarks/train_accuracy.py keima3 --threads 2 -- --seed 2

keima3:   raw illustrations → `streamer prepare` → `train` → `export` → `evaluate` on the .onnx
newgame8: pre-cropped faces  →                     `train` → `export` → `evaluate` on the .onnx

Every step is the real `streamer` command in a subprocess (its exact command line is printed),
timed by wall clock; the accuracy is what `evaluate --json` reports for the ONNX model, i.e.
with the runtime's own ONNX classifier. Outputs go to benchmarks/out/train_accuracy/ (git-
ignored) and are replaced on every run. Arguments after `--` are passed to `streamer train`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STREAMER_ASSETS") or REPO.parent / "shared")
WEIGHTS = SHARED / "models" / "mobilenet_2_5_224_tf_no_top.h5"
DATASETS = {
    "keima3": SHARED / "datasets" / "keima3" / "raw",  # needs prepare
    "newgame8": SHARED / "datasets" / "newgame8",  # already train/ and test/ crops
}
TARGETS = {"keima3": "18/18 (100 %)", "newgame8": ">= 94 %"}


def run_step(name: str, argv: list[str], env: dict[str, str], log: list[str]) -> tuple[float, str]:
    """Run `python -m streamer ARGV`; (seconds, stdout). Exits with the step's error if it fails."""
    command = [sys.executable, "-m", "streamer", *argv]
    printable = "streamer " + " ".join(shlex.quote(a) for a in argv)
    log.append(printable)
    print(f"  $ {printable}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed (exit {done.returncode}): {done.stderr.strip()}")
    for line in done.stderr.strip().splitlines():
        print(f"    {line}")
    return seconds, done.stdout


def rel(path: Path) -> str:
    """`path` relative to the repository (where the commands run), as a README would write it."""
    return os.path.relpath(path, REPO)


def bench(dataset: str, out: Path, train_args: list[str], threads: int | None, env: dict[str, str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    log: list[str] = []
    source = DATASETS[dataset]
    if dataset == "keima3":
        data = out / "faces"
        times["prepare"], _ = run_step("prepare", ["prepare", rel(source), rel(data), "--force", "-q"], env, log)
    else:
        data = source
    keras_model, onnx_model = out / f"{dataset}.keras", out / f"{dataset}.onnx"
    thread_args = ["--threads", str(threads)] if threads else []
    train = ["train", rel(data), "-o", rel(keras_model), "--weights", rel(WEIGHTS), *thread_args, *train_args, "--force"]
    times["train"], _ = run_step("train", train, env, log)
    times["export"], _ = run_step("export", ["export", rel(keras_model), "-o", rel(onnx_model), "--force"], env, log)
    evaluate = ["evaluate", rel(onnx_model), rel(data / "test"), "--json", "--force", "-q"]
    times["evaluate"], stdout = run_step("evaluate", evaluate, env, log)
    figures = json.loads(stdout)
    return {"dataset": dataset, "times": times, "figures": figures, "commands": log}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", metavar="DATASET", help=f"any of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads for train (default: all cores)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "train_accuracy")
    parser.epilog = "Arguments after -- go to `streamer train`, e.g. -- --seed 2 --resolution 160."
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    train_args = argv[split + 1 :]
    unknown = [name for name in args.datasets if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    datasets = args.datasets or list(DATASETS)
    env = {**os.environ, "STREAMER_ASSETS": str(SHARED), "PYTHONPATH": str(REPO)}
    print(f"{os.cpu_count()} cores; weights {WEIGHTS.name}; extra train arguments: {train_args or 'none'}")
    results = []
    for dataset in datasets:
        print(f"\n{dataset}:")
        results.append(bench(dataset, args.out / dataset, train_args, args.threads, env))

    print("\n| dataset | test accuracy (ONNX) | target | prepare | train | export | evaluate | total |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        f, t = r["figures"], r["times"]
        cells = [f"{t[k]:.0f} s" if k in t else "–" for k in ("prepare", "train", "export", "evaluate")]
        print(
            f"| {r['dataset']} | {f['correct']}/{f['total']} = {100 * f['accuracy']:.1f} % | {TARGETS[r['dataset']]} "
            f"| {' | '.join(cells)} | {sum(t.values()):.0f} s |"
        )
    for r in results:
        wrong = [f"{i['truth']}/{Path(i['path']).name} → {i['predicted']}" for i in r["figures"]["images"] if not i["ok"]]
        print(f"{r['dataset']} misclassified: {', '.join(wrong) if wrong else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
