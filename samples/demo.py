"""The whole product once, through the real `streamer` command: what `make demo` runs.

    python samples/demo.py                  # into demo-out/ (about 3 minutes on two cores)
    python samples/demo.py --quick          # fewer epochs, a 10 s clip (what the fresh-clone test runs)
    python samples/demo.py --out DIR

Steps, each one documented command run as its own process:
1. `streamer prepare`  the keima3 illustrations (an asset: $STREAMER_ASSETS, the cache, ...) →
                       96x96 face crops, split train (images 1-30) / test (31-36);
2. `streamer train`    MobileNet alpha 0.25 with its ImageNet weights (`--weights imagenet`
                       resolves the pinned file through the assets) → model.keras;
3. `streamer export`   → model.onnx, checked against Keras on the test crops;
4. `streamer evaluate` the ONNX model on the test crops → accuracy, evaluation/report.md;
5. `samples/make_clip.py` a clip filmed from the keima3 TEST images (pan/zoom, hard cuts,
                       sine audio) with per-frame ground truth;
6. `streamer annotate` that clip → labeled.mp4 and its sidecar labeled.jsonl;
7. `streamer score`    the sidecar against the clip's ground truth;
then one labelled frame (the one with the most named faces) saved as labeled_frame.png, and a
summary: the output paths, the accuracy and where the time went (summary.json has the same).

Why a process per step rather than calling streamer.cli.main in here: it is exactly what a user
types (console script, argument parsing, exit codes, output), TensorFlow stays in the train and
export processes instead of sitting in annotate's, and each step's wall time includes its own
start-up as a user would see it.

Outputs go under --out (default demo-out/ in the repository, git-ignored). The demo owns that
folder: it refuses a non-empty folder it did not make, and replaces its own earlier results.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import cv2  # before av: with GUI OpenCV under X, importing av first makes cv2.imshow hang
import av

from streamer import assets
from streamer.atomic import AtomicPath
from streamer.detections import UNKNOWN
from streamer.errors import InputError, OutputError, StreamerError
from streamer.sidecar import FaceRecord, read_sidecar

REPO = Path(__file__).resolve().parents[1]
MAKE_CLIP = REPO / "samples" / "make_clip.py"
DEFAULT_OUT = REPO / "demo-out"
MARKER = ".streamer-demo"  # says "this folder is the demo's own", so a rerun may replace it
CLIP_PRESET = "keima3-test"  # samples/make_clip.py: keima3 raw images 31-36, the test split


@dataclass(frozen=True)
class Mode:
    """How much work: train's epoch limits (None: train's defaults) and the clip's length."""

    name: str
    epochs: int | None
    fine_tune_epochs: int | None
    clip_seconds: float


FULL = Mode("full", None, None, 30.0)
# Enough epochs for a model that names most test faces (17 of 18 here), a clip with a few shots.
QUICK = Mode("quick", 15, 15, 10.0)


@dataclass(frozen=True)
class DemoPaths:
    out: Path
    prepared: Path  # train/ and test/ face crops, prepare-report.md
    keras: Path
    onnx: Path
    evaluation: Path  # report.md, confusion.png, evaluation.json
    clip: Path
    truth: Path
    labeled: Path
    sidecar: Path
    frame: Path
    summary: Path

    @classmethod
    def under(cls, out: Path) -> DemoPaths:
        return cls(
            out=out,
            prepared=out / "prepared",
            keras=out / "model" / "model.keras",
            onnx=out / "model" / "model.onnx",
            evaluation=out / "evaluation",
            clip=out / "clip.mp4",
            truth=out / "clip.truth.jsonl",
            labeled=out / "labeled.mp4",
            sidecar=out / "labeled.jsonl",
            frame=out / "labeled_frame.png",
            summary=out / "summary.json",
        )


@dataclass(frozen=True)
class StepTime:
    step: str
    seconds: float


@dataclass(frozen=True)
class ChosenFrame:
    index: int
    time: float
    names: tuple[str, ...]  # the named (not unknown) faces in it


class StepFailed(StreamerError):
    """A step's command failed (its own message is above); the demo exits with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- the steps ------------------------------------------------------------------------------


def display(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter to read and click)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def streamer_command() -> list[str]:
    """The installed console script beside this interpreter (what `make demo` installed), else
    `python -m streamer`, which runs the same streamer.cli.main."""
    script = Path(sys.executable).with_name("streamer")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "streamer"]


def run_step(command: Sequence[str], shown: Sequence[str]) -> float:
    """Run one command with the terminal as its output (progress bars, summaries, errors show
    as they would for a user); its wall time in seconds. StepFailed if it fails."""
    print(f"\n$ {shlex.join(shown)}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(list(command))
    seconds = time.perf_counter() - started
    if result.returncode in (130, -signal.SIGINT):
        raise KeyboardInterrupt
    if result.returncode != 0:
        # A negative code is a signal (a crash, OOM killer): report it the shell's way, 128 + signal.
        code = result.returncode if result.returncode > 0 else 128 - result.returncode
        raise StepFailed(f"`{shlex.join(shown)}` failed with exit code {code} (its message is above)", code)
    return seconds


def steps(paths: DemoPaths, keima3: Path, mode: Mode) -> list[tuple[str, list[str]]]:
    """(step name, arguments) of every command, in order; arguments after `streamer` or, for
    the clip, after `python samples/make_clip.py`. Paths below the working directory are
    relative, so the printed commands can be copied as they are."""
    epochs = []
    if mode.epochs is not None:
        epochs += ["--epochs", str(mode.epochs)]
    if mode.fine_tune_epochs is not None:
        epochs += ["--fine-tune-epochs", str(mode.fine_tune_epochs)]
    prepared, keras, onnx, evaluation = (display(p) for p in (paths.prepared, paths.keras, paths.onnx, paths.evaluation))
    clip, truth, labeled, sidecar = (display(p) for p in (paths.clip, paths.truth, paths.labeled, paths.sidecar))
    return [
        ("prepare", ["prepare", display(keima3 / "raw"), prepared, "--force"]),
        ("train", ["train", prepared, "-o", keras, "--weights", "imagenet", *epochs, "--force"]),
        ("export", ["export", keras, "-o", onnx, "--force"]),
        ("evaluate", ["evaluate", onnx, prepared, "-o", evaluation, "--force"]),
        ("clip", ["--preset", CLIP_PRESET, "--data", display(keima3), "--seconds", f"{mode.clip_seconds:g}",
                  "--truth", truth, "--force", clip]),
        ("annotate", ["annotate", clip, "-o", labeled, "-m", onnx, "--sidecar", sidecar, "--force"]),
        ("score", ["score", sidecar, truth]),
    ]


def prepare_out(out: Path) -> None:
    """Create `out` (and model/), or reuse it if it is the demo's own; never touch a user's folder."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputError(f"--out {out} is not empty and not a demo folder; choose another or remove it")
    try:
        (out / "model").mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("made by samples/demo.py; it replaces what is in here when run again\n")
    except OSError as exc:
        raise OutputError(f"cannot write in {out}: {exc.strerror or exc}") from None


# --- the picture ------------------------------------------------------------------------------


def pick_frame(records: Sequence[FaceRecord]) -> ChosenFrame:
    """The frame with the most named faces (then the most confident); the earliest of equals.
    InputError if no frame has a named face."""
    named: dict[int, list[FaceRecord]] = {}
    for record in records:
        if record.name != UNKNOWN:
            named.setdefault(record.frame, []).append(record)
    if not named:
        raise InputError("the sidecar has no named face in any frame: nothing to show")
    index = max(named, key=lambda i: (len(named[i]), sum(r.confidence for r in named[i]), -i))
    faces = sorted(named[index], key=lambda r: r.x1)
    return ChosenFrame(index, faces[0].time, tuple(r.name for r in faces))


def save_frame(video: Path, index: int, png: Path) -> None:
    """Decode `video` up to frame `index` (0-based, decode order = display order for our H.264
    output) and write that frame, BGR as decoded, to `png`."""
    image = None
    try:
        with av.open(str(video)) as container:
            for position, frame in enumerate(container.decode(video=0)):
                if position == index:
                    image = frame.to_ndarray(format="bgr24")
                    break
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot decode {video}: {exc}") from None
    if image is None:
        raise InputError(f"{video} has no frame {index}")
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise OutputError(f"cannot encode frame {index} as PNG")
    with AtomicPath(png) as partial:
        partial.write_bytes(encoded.tobytes())


# --- the summary ------------------------------------------------------------------------------


def timing_table(times: Sequence[StepTime]) -> list[str]:
    total = sum(t.seconds for t in times)
    width = max(len("total"), *(len(t.step) for t in times))
    lines = [f"  {'step'.ljust(width)}  seconds  share"]
    for t in times:
        lines.append(f"  {t.step.ljust(width)}  {t.seconds:7.1f}  {100 * t.seconds / total:4.0f} %")
    lines.append(f"  {'total'.ljust(width)}  {total:7.1f}")
    return lines


def write_summary(path: Path, summary: dict) -> None:
    with AtomicPath(path) as partial:
        partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


# --- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        description="Run the whole product once on the keima3 illustrations: prepare, train (MobileNet 0.25, "
        "ImageNet weights), export to ONNX, evaluate, then annotate a sample clip and score it.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: demo-out/ in the repository)")
    parser.add_argument("--quick", action="store_true",
                        help=f"fewer epochs ({QUICK.epochs}+{QUICK.fine_tune_epochs}) and a {QUICK.clip_seconds:g} s clip")
    parser.add_argument("--setup-seconds", type=float, metavar="S",
                        help="time the setup before this script took (make passes its venv + install time)")
    return parser


def run(args: argparse.Namespace) -> int:
    mode = QUICK if args.quick else FULL
    paths = DemoPaths.under(args.out)
    # Fail in the first second, with the assets' own message, if the images are not reachable.
    keima3 = assets.resolve(assets.KEIMA3)
    prepare_out(paths.out)
    print(f"demo ({mode.name}): keima3 images from {keima3}; outputs in {display(paths.out)}/", flush=True)
    times = [StepTime("setup", args.setup_seconds)] if args.setup_seconds is not None else []
    streamer = streamer_command()
    for name, arguments in steps(paths, keima3, mode):
        if name == "clip":
            command, shown = [sys.executable, str(MAKE_CLIP), *arguments], ["python", display(MAKE_CLIP), *arguments]
        else:
            command, shown = [*streamer, *arguments], ["streamer", *arguments]
        times.append(StepTime(name, run_step(command, shown)))

    started = time.perf_counter()
    records, _ = read_sidecar(paths.sidecar)
    chosen = pick_frame(records)
    save_frame(paths.labeled, chosen.index, paths.frame)
    times.append(StepTime("frame", time.perf_counter() - started))

    evaluation = json.loads((paths.evaluation / "evaluation.json").read_text(encoding="utf-8"))
    accuracy, correct, total = float(evaluation["accuracy"]), int(evaluation["correct"]), int(evaluation["total"])
    summary = {
        "mode": mode.name,
        "labeled_video": str(paths.labeled),
        "sidecar": str(paths.sidecar),
        "evaluation_report": str(paths.evaluation / "report.md"),
        "labeled_frame": {"path": str(paths.frame), "frame": chosen.index, "time": chosen.time, "names": list(chosen.names)},
        "model": str(paths.onnx),
        "accuracy": {"accuracy": accuracy, "correct": correct, "total": total},
        "seconds": [asdict(t) for t in times],
    }
    write_summary(paths.summary, summary)

    print(f"\ndemo finished ({mode.name})")
    print(f"  labeled video      {display(paths.labeled)}")
    print(f"  sidecar            {display(paths.sidecar)}")
    print(f"  evaluation report  {display(paths.evaluation / 'report.md')}")
    print(f"  labeled frame      {display(paths.frame)} (frame {chosen.index} at {chosen.time:.2f} s: "
          f"{', '.join(chosen.names)})")
    print(f"  test accuracy      {100 * accuracy:.1f} % ({correct} of {total} keima3 test faces, ONNX model)")
    print("\nwhere the time went (wall clock)")
    for line in timing_table(times):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except StreamerError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
