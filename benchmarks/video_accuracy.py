"""Recognition accuracy on video with ground truth, next to the same model's still-image accuracy.

    python benchmarks/video_accuracy.py                       # keima3 and newgame8, default models
    python benchmarks/video_accuracy.py --model keima3=k.onnx --model newgame8=n.onnx
    python benchmarks/video_accuracy.py --datasets keima3 --seed 1

For each dataset's test split (keima3: raw images 31-36 of each character; newgame8: test/):
1. a labelled clip of those images (samples/make_clip.py: every usable image filmed once, camera
   moves, hard cuts, some two-image shots; per-frame face boxes and names);
2. `annotate` on it with the dataset's classifier (the shipped loop and defaults), with a sidecar;
3. `score` of the sidecar against the truth (streamer.scoring);
4. `streamer evaluate MODEL TEST --json`: the same model's accuracy on the still test crops.

Targets (issue 5): name accuracy on video no lower than the still-image accuracy; fewer than one
label flip per track on average.

Models: --model NAME=PATH, else the ONNX file benchmarks/train_accuracy.py writes for that dataset
(TRAINED_MODELS below), else one trained here with the documented commands (`streamer prepare`
for keima3, `streamer train`, `streamer export`) into OUT/<dataset>/model/, which takes a while
on two cores. Everything goes under OUT (default benchmarks/out/video_accuracy/), the figures
also into OUT/results.json. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # samples/ and streamer/ from this checkout, as a script or a module
    sys.path.insert(0, str(REPO))
if "STREAMER_ASSETS" not in os.environ and (REPO.parent / "shared").is_dir():
    os.environ["STREAMER_ASSETS"] = str(REPO.parent / "shared")  # the checkout's reference data, as CI has it

from samples import make_clip as mc  # noqa: E402
from streamer import assets, labeler, model_contract  # noqa: E402
from streamer.annotate import annotate  # noqa: E402
from streamer.errors import InputError, StreamerError  # noqa: E402
from streamer.groundtruth import read_truth  # noqa: E402
from streamer.pipeline import DEFAULT_DETECT_EVERY, LoopSettings  # noqa: E402
from streamer.scoring import VideoScore, check_same_clip, score  # noqa: E402
from streamer.sidecar import read_sidecar  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "out" / "video_accuracy"
# Where benchmarks/train_accuracy.py leaves its exported classifiers and keima3's prepared faces
# (<out>/<dataset>/<dataset>.onnx, <out>/keima3/faces/; keep in step with it).
TRAIN_ACCURACY_OUT = REPO / "benchmarks" / "out" / "train_accuracy"
TRAINED_MODELS = {name: TRAIN_ACCURACY_OUT / name / f"{name}.onnx" for name in ("keima3", "newgame8")}
TRAINED_FACES = {"keima3": TRAIN_ACCURACY_OUT / "keima3" / "faces"}


@dataclass(frozen=True)
class Dataset:
    name: str
    preset: str  # samples/make_clip.py preset for the clip of its test split
    raw: str | None  # folder under the dataset of full illustrations to `prepare` (None: crops already)


DATASETS = {
    "keima3": Dataset("keima3", "keima3-test", "raw"),
    "newgame8": Dataset("newgame8", "newgame8-test", None),
}


@dataclass(frozen=True)
class Still:
    """`streamer evaluate` on the still test images: argmax accuracy, and the share that would
    also clear annotate's unknown threshold (the video figure counts `unknown` as wrong)."""

    accuracy: float
    correct: int
    total: int
    correct_above_threshold: int

    @property
    def accuracy_at_threshold(self) -> float:
        return self.correct_above_threshold / self.total if self.total else 0.0


@dataclass(frozen=True)
class Figures:
    dataset: str
    model: Path
    test_dir: Path  # the still test images (or a prepared folder holding test/)
    still: Still
    video: VideoScore
    clip_frames: int
    clip_shots: int
    seconds: float  # wall time of clip + annotate + score

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "model": str(self.model),
            "still_test_dir": str(self.test_dir),
            "still": {
                "accuracy": self.still.accuracy,
                "correct": self.still.correct,
                "total": self.still.total,
                "accuracy_at_threshold": self.still.accuracy_at_threshold,
            },
            "clip": {"frames": self.clip_frames, "shots": self.clip_shots},
            "video": self.video.to_dict(),
            "targets": targets(self),
        }


def targets(figures: Figures) -> dict[str, bool | None]:
    video = figures.video
    return {
        "name_accuracy_at_least_still": None
        if video.name_accuracy is None
        else video.name_accuracy >= figures.still.accuracy,
        "under_one_flip_per_track": None if video.flips_per_track is None else video.flips_per_track < 1.0,
    }


# --- steps ------------------------------------------------------------------------------------


def streamer_command(*args: str) -> list[str]:
    # `-m streamer` from the repository root: `export/` (training) is importable from there.
    return [sys.executable, "-m", "streamer", *args]


def run_command(command: list[str], log: Path | None = None) -> str:
    """Run a documented command from the repository root; its stdout, or InputError with its last line."""
    print("  $ " + shlex.join(["streamer", *command[3:]] if command[1:3] == ["-m", "streamer"] else command), file=sys.stderr)
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if log is not None:
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"`{shlex.join(command[3:])}` failed ({result.returncode}): {last}")
    return result.stdout


def dataset_folder(dataset: Dataset) -> Path:
    asset, _, _ = mc.PRESETS[dataset.preset]
    return assets.resolve(asset)


def still_test_dir(dataset: Dataset, work: Path) -> Path:
    """The still test images the model's accuracy is measured on: newgame8's test/ as it comes;
    keima3's faces cut from its raw illustrations by `streamer prepare` (test = 31-36)."""
    if dataset.raw is None:
        return dataset_folder(dataset) / "test"
    if (TRAINED_FACES[dataset.name] / "test").is_dir():
        return TRAINED_FACES[dataset.name]  # the same command's output, already there
    prepared = work / "prepared"
    if not (prepared / "test").is_dir():
        run_command(streamer_command("prepare", str(dataset_folder(dataset) / dataset.raw), str(prepared), "-q", "-f"))
    return prepared


def find_or_train_model(dataset: Dataset, work: Path, given: Path | None, train_args: Sequence[str]) -> Path:
    if given is not None:
        if not given.is_file():
            raise InputError(f"model for {dataset.name} not found: {given}")
        return given
    if TRAINED_MODELS[dataset.name].is_file():
        return TRAINED_MODELS[dataset.name]
    model_dir = work / "model"
    onnx_path = model_dir / "model.onnx"
    if onnx_path.is_file():
        return onnx_path
    print(f"{dataset.name}: no trained model found; training one (streamer train defaults)", file=sys.stderr)
    model_dir.mkdir(parents=True, exist_ok=True)
    data = still_test_dir(dataset, work) if dataset.raw else dataset_folder(dataset)
    keras_path = model_dir / "model.keras"
    run_command(streamer_command("train", str(data), "-o", str(keras_path), "-q", "-f", *train_args), model_dir / "train.log")
    run_command(streamer_command("export", str(keras_path), "-o", str(onnx_path), "-q", "-f"), model_dir / "export.log")
    return onnx_path


def still_accuracy(model: Path, test_dir: Path, work: Path, threshold: float | None) -> Still:
    given = [] if threshold is None else ["--threshold", str(threshold)]
    out = run_command(
        streamer_command("evaluate", str(model), str(test_dir), *given, "--json", "-q", "-f", "-o", str(work / "evaluation"))
    )
    data = json.loads(out)
    # evaluate counts a face below the threshold as unknown, hence wrong, as annotate does; the
    # argmax figure is kept beside it.
    argmax = sum(1 for image in data["images"] if image["top"][0]["label"] == image["truth"])
    return Still(argmax / max(1, int(data["total"])), argmax, int(data["total"]), int(data["correct"]))


def clip_paths(work: Path) -> tuple[Path, Path, Path, Path]:
    """clip, its truth, the annotated video, the sidecar."""
    return work / "clip.mp4", work / "clip.truth.jsonl", work / "annotated.mp4", work / "clip.jsonl"


def measure(
    dataset: Dataset, model: Path, work: Path, settings: LoopSettings, seed: int, seconds: float | None
) -> tuple[VideoScore, int, int, float]:
    clip, truth_path, annotated, sidecar = clip_paths(work)
    asset, split, stems = mc.PRESETS[dataset.preset]
    started = time.perf_counter()
    info = mc.make_clip(
        assets.resolve(asset) / split,
        clip,
        truth_path,
        select=mc.stem_range(*stems) if stems else None,
        seconds=seconds,  # None: every usable image of the split, once
        seed=seed,
        force=True,
    )
    print(f"  clip: {info.frames} frames, {info.shots} shots, skipped {list(info.skipped)}", file=sys.stderr)
    annotate(clip, annotated, model, sidecar_path=sidecar, settings=settings, force=True, progress=False)
    records, summary = read_sidecar(sidecar)
    truth = read_truth(truth_path)
    check_same_clip(records, truth.frames, summary.frames if summary else None)
    result = score(records, truth.frames)
    return result, info.frames, info.shots, time.perf_counter() - started


# --- report ---------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def table(rows: Sequence[Figures]) -> list[str]:
    head = (
        "dataset", "still acc", "still@thr", "video name acc", "identity acc", "unknown", "recall", "precision",
        "flips/track", "id switches", "frames", "shots",
    )
    body = []
    for f in rows:
        v = f.video
        body.append((
            f.dataset,
            f"{pct(f.still.accuracy)} ({f.still.correct}/{f.still.total})",
            pct(f.still.accuracy_at_threshold),
            f"{pct(v.name_accuracy)} ({v.correct}/{v.matched})",
            f"{pct(v.identity_accuracy)} ({v.identities_named}/{v.identities_detected})",
            pct(v.unknown_rate),
            pct(v.recall),
            pct(v.precision),
            "n/a" if v.flips_per_track is None else f"{v.flips_per_track:.2f} ({v.label_flips}/{v.tracks})",
            str(v.identity_switches),
            str(f.clip_frames),
            str(f.clip_shots),
        ))
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return [line(head), *(line(r) for r in body)]


def reproduce_lines(
    argv: Sequence[str], rows: Sequence[Figures], out: Path, settings: LoopSettings, seed: int, seconds: float | None
) -> list[str]:
    lines = ["reproduce: " + shlex.join(["python", "benchmarks/video_accuracy.py", *argv]), "by hand, per dataset:"]
    loop = []
    if settings.detect_every != DEFAULT_DETECT_EVERY:
        loop += ["--detect-every", str(settings.detect_every)]
    if settings.threshold is not None:
        loop += ["--threshold", str(settings.threshold)]
    if labeler.face_crop_box is not model_contract.face_crop_box:
        lines.append("  (--crop-margin is a what-if inside this script; the commands below run the shipped margin)")
    length = "--every-image" if seconds is None else f"--seconds {seconds:g}"
    for f in rows:
        clip, truth, annotated, sidecar = (_relative(p) for p in clip_paths(out / f.dataset))
        dataset = DATASETS[f.dataset]
        model, test_dir = _relative(f.model), _relative(f.test_dir)
        if dataset.raw:
            raw = _relative(dataset_folder(dataset) / dataset.raw)
            lines.append("  " + shlex.join(["streamer", "prepare", raw, test_dir]) + "   # the faces; test = 31-36")
        if f.model.resolve() == (out / f.dataset / "model" / "model.onnx").resolve():  # trained by this script
            data = test_dir if dataset.raw else _relative(dataset_folder(dataset))
            keras_path = _relative(f.model.with_suffix(".keras"))
            lines += [
                "  " + shlex.join(["streamer", "train", data, "-o", keras_path]),
                "  " + shlex.join(["streamer", "export", keras_path, "-o", model]),
            ]
        lines += [
            f"  python samples/make_clip.py --preset {dataset.preset} {length} --seed {seed} --force {clip}",
            "  " + shlex.join(["streamer", "annotate", clip, "-o", annotated, "-m", model, "--sidecar", sidecar, "-f", *loop]),
            "  " + shlex.join(["streamer", "score", sidecar, truth]),
            "  " + shlex.join(["streamer", "evaluate", model, test_dir, "--json"]),
        ]
    return lines


def _relative(path: Path) -> str:
    """The path as typed from the repository root (../shared/... for the reference data)."""
    return os.path.relpath(path.resolve(), REPO)


# --- command line ---------------------------------------------------------------------------


def parse_models(values: Sequence[str]) -> dict[str, Path]:
    models = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or name not in DATASETS:
            raise argparse.ArgumentTypeError(f"--model {value!r}: expected NAME=PATH with NAME one of {', '.join(DATASETS)}")
        models[name] = Path(path)
    return models


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="video_accuracy.py",
        description="Name accuracy, detection recall/precision, label flips and identity switches on labelled clips "
        "of the keima3 and newgame8 test splits, next to the same model's still-image test accuracy.",
    )
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=list(DATASETS))
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="classifier (.onnx) for a dataset, e.g. keima3=model.onnx (default: train_accuracy.py's, "
                        "else one trained here)")
    parser.add_argument("--seed", type=int, default=0, help="clip seed: camera moves, pairs, order (default 0)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="clip length; images are drawn again when they run out (default: every test image once)")
    parser.add_argument("--detect-every", type=int, default=DEFAULT_DETECT_EVERY, metavar="N",
                        help=f"annotate's --detect-every (default {DEFAULT_DETECT_EVERY}, as shipped)")
    parser.add_argument("--threshold", type=float, default=None, metavar="S",
                        help="annotate's --threshold (default: the model's own, as shipped)")
    parser.add_argument("--train-args", default="", metavar="ARGS",
                        help="extra `streamer train` options when a model is trained here, e.g. '--epochs 5'")
    parser.add_argument("--crop-margin", type=float, default=None, metavar="M",
                        help="DIAGNOSTIC: make annotate cut classifier crops with margin M instead of the one in the model's "
                        "metadata (what-if for a model trained on crops cut another way)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"work folder (default {_relative(DEFAULT_OUT)})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        models = parse_models(args.model)
    except argparse.ArgumentTypeError as exc:
        build_parser().error(str(exc))
    settings = LoopSettings(detect_every=args.detect_every, threshold=args.threshold)
    if args.crop_margin is not None:
        # The labeler cuts its crops with model_contract.face_crop_box at the model's own margin;
        # a what-if that overrides it, not a setting.
        what_if_margin = args.crop_margin
        labeler.face_crop_box = lambda xyxy, width, height, _model_margin: model_contract.face_crop_box(
            xyxy, width, height, what_if_margin)
    rows = []
    try:
        for name in args.datasets:
            dataset = DATASETS[name]
            work = args.out / name
            work.mkdir(parents=True, exist_ok=True)
            print(f"{name}:", file=sys.stderr)
            model = find_or_train_model(dataset, work, models.get(name), shlex.split(args.train_args))
            test_dir = still_test_dir(dataset, work)
            still = still_accuracy(model, test_dir, work, settings.threshold)
            video, frames, shots, seconds = measure(dataset, model, work, settings, args.seed, args.seconds)
            rows.append(Figures(name, model, test_dir, still, video, frames, shots, seconds))
            print(f"  done in {seconds:.0f} s (clip + annotate + score)", file=sys.stderr)
    except StreamerError as exc:
        print(f"video_accuracy: error: {exc}", file=sys.stderr)
        return exc.exit_code
    (args.out / "results.json").write_text(
        json.dumps({"argv": argv, "seed": args.seed, "seconds": args.seconds, "detect_every": settings.detect_every,
                    "threshold": settings.threshold, "crop_margin": args.crop_margin,
                    "results": [r.to_dict() for r in rows]}, indent=2) + "\n",
        encoding="utf-8",
    )
    margin = "" if args.crop_margin is None else f"; DIAGNOSTIC crop margin {args.crop_margin:g}"
    clips = "every test image once" if args.seconds is None else f"{args.seconds:g} s of test images"
    threshold = "the model's" if settings.threshold is None else f"{settings.threshold:g}"
    print(f"video accuracy (annotate --detect-every {settings.detect_every}, threshold {threshold}{margin}; "
          f"clips of {clips}, seed {args.seed}; IoU >= 0.5)")
    for line in table(rows):
        print(line)
    print()
    for f in rows:
        t = targets(f)
        verdict = lambda ok: "n/a" if ok is None else ("met" if ok else "NOT met")  # noqa: E731
        print(f"{f.dataset}: video name accuracy >= still accuracy: {verdict(t['name_accuracy_at_least_still'])}; "
              f"< 1 label flip per track: {verdict(t['under_one_flip_per_track'])}  (model {_relative(f.model)})")
    print()
    for line in reproduce_lines(argv, rows, args.out, settings, args.seed, args.seconds):
        print(line)
    print(f"figures also in {_relative(args.out / 'results.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
