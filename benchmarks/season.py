"""A season through `streamer annotate EP... -o OUT/`: one process, N worker processes, and a
local Ray instance. Prints episodes per hour, the speed-up over one worker, and Ray's overhead
against plain processes.

    python benchmarks/season.py [--episodes 4] [--minutes 1] [--model M.onnx] [--out benchmarks/out]

Episodes are the shared clips looped by stream copy to --minutes each (cached in --out), so
each is real footage with its audio. Every run is a whole `streamer annotate` process on an
empty output folder (--force), best of --repeat. On a 2-core machine the speed-up is bounded
by the cores; the point is the overhead, and that the same command scales on a cluster.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput_inputs import ONEPIECE, SAKURASOU, looped, model_or_default  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def run(episodes: list[Path], out: Path, model: Path | None, extra: list[str]) -> float:
    command = [sys.executable, "-m", "streamer", "annotate", *map(str, episodes), "-o", str(out), "--force", "-q", *extra]
    if model is not None:
        command += ["-m", str(model)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    if done.returncode != 0:
        raise SystemExit(f"annotate failed: {done.stderr[-400:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args()
    model = model_or_default(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    sources = [SAKURASOU, ONEPIECE]
    episodes = [looped(sources[i % 2], args.out / f"season_ep{i + 1:02d}_{args.minutes:g}min.mp4", 60 * args.minutes)
                for i in range(args.episodes)]
    cores = os.cpu_count() or 1
    rows = [("1 process", []), ("--workers 2", ["--workers", "2"]), ("--ray local (2 CPUs)", ["--ray", "local"])]
    print(f"{args.episodes} episodes of {args.minutes:g} min (480p, audio), model {model or 'none'}, {cores} cores\n")
    print("| run | seconds | episodes per hour | speed-up vs 1 process |")
    print("|---|---:|---:|---:|")
    baseline = None
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, extra in rows:
            seconds = min(run(episodes, Path(scratch) / "out", model, extra) for _ in range(args.repeat))
            times[label] = seconds
            baseline = baseline or seconds
            print(f"| {label} | {seconds:.1f} | {3600 * args.episodes / seconds:.0f} | {baseline / seconds:.2f}x |", flush=True)
    overhead = times["--ray local (2 CPUs)"] - times["--workers 2"]
    print(f"\nRay's overhead against 2 plain worker processes: {overhead:+.1f} s for the run "
          f"({overhead / args.episodes:+.1f} s per episode; starting the local instance is most of it)")


if __name__ == "__main__":
    main()
