"""`streamer live --realtime` on the sakurasou clip: does it keep up, with and without the window
and the recording, at 480p and 1080p? Prints fps, latency and dropped frames per run.

    python benchmarks/live.py [--model M.onnx] [--runs 1] [--out benchmarks/out]

Each run is a whole `streamer live` process (as a user runs it) playing the clip at its own
speed; the preview window opens on a private Xvfb display (started here; needs Xvfb). The
1080p input is the clip upscaled (benchmarks/throughput_inputs.py, cached in --out).
Figures are the process's own summary line ("live: source ended: N frames ..., latency A ms
mean / B ms max, dropped D (P %)"). Without --model, the keima3 model of
benchmarks/open_set.py (benchmarks/out/open_set/keima3/model.onnx) when it is there, else
faces only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throughput_inputs import SAKURASOU, model_or_default, upscaled  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"live: (?P<reason>[^:]+): (?P<frames>\d+) frames in (?P<seconds>[\d.]+) s \((?P<fps>[\d.]+) fps\), "
    r"latency (?P<mean>\d+) ms mean / (?P<max>\d+) ms max, dropped (?P<dropped>\d+)"
)


@contextlib.contextmanager
def xvfb(width: int = 1920, height: int = 1080) -> Iterator[str]:
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 10)
        number = os.read(read_end, 32).decode().strip() if ready else ""
        if not number.isdigit():
            raise SystemExit("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(5)


def run_live(clip: Path, model: Path | None, window: bool, record: bool, display: str, scratch: Path) -> dict:
    command = [sys.executable, "-m", "streamer", "live", "--source", str(clip), "--realtime", "--stats-every", "0"]
    if model is not None:
        command += ["--model", str(model)]
    if not window:
        command.append("--no-window")
    if record:
        command += ["--record", str(scratch / "live.mp4"), "--force"]
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO))
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    found = SUMMARY.search(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"live failed ({done.returncode}): {done.stderr[-500:]}")
    return {key: (value if key == "reason" else float(value)) for key, value in found.groupdict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--runs", type=int, default=1, help="runs per row; the row shows the one with the fewest drops")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args()
    model = model_or_default(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    clips = {"480p": SAKURASOU, "1080p": upscaled(SAKURASOU, args.out / "sakurasou_1920x1080.mp4", 1920, 1080)}
    rows = [("480p", False, True), ("480p", True, True), ("1080p", False, False), ("1080p", False, True), ("1080p", True, True)]
    print(f"model: {model or 'none (faces only)'}; {args.runs} run(s) per row, fewest drops shown\n")
    print("| input | window | --record | shown | fps | latency mean / max | dropped |")
    print("|---|---|---|---:|---:|---:|---:|")
    with xvfb() as display, tempfile.TemporaryDirectory() as scratch:
        for size, window, record in rows:
            runs = [run_live(clips[size], model, window, record, display, Path(scratch)) for _ in range(args.runs)]
            best = min(runs, key=lambda r: r["dropped"])
            total = best["frames"] + best["dropped"]
            print(f"| {size} | {'yes' if window else 'no'} | {'yes' if record else 'no'} | {best['frames']:.0f} of {total:.0f} "
                  f"| {best['fps']:.1f} | {best['mean']:.0f} / {best['max']:.0f} ms "
                  f"| {best['dropped']:.0f} ({100 * best['dropped'] / total:.1f} %) |", flush=True)


if __name__ == "__main__":
    main()
