"""Open-set recognition, measured: does a model name only the characters it knows?

    python benchmarks/open_set.py                          # train keima3 + newgame8 at defaults, measure
    python benchmarks/open_set.py --model keima3=a.onnx --model newgame8=b.onnx   # measure given models

For each model, with the real `streamer` commands (printed), on the data in ../shared:
- known: `evaluate` on the dataset's test faces at the model's own threshold (a known face
  called `unknown` is wrong);
- foreign: the share called `unknown` of faces of characters the model never saw: the other
  dataset's characters minus names they share (keima3's raw illustrations, cut by `evaluate
  --foreign` as `prepare` cuts them; newgame8's crops, train and test) plus
  animeface_patches/positive_test;
- real clips (keima3 model): the share of face records `unknown` when annotating the three
  shared real clips, none of whose characters it knows;
- k-shot enrollment (keima3 model): newgame8's characters other than takimoto_hifumi (whom
  keima3 knows) enrolled from k = 1, 3, 5 images each (`streamer enroll`, seeded draws, three
  trials), then `evaluate --gallery` on the rest of their images, with positive_test as foreign.

Closed-set models (from before open-set training) are measured the same way, at the runtime's
default threshold, without enrollment. Prints a table; writes benchmarks/out/open_set/results.json.
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
DATASETS = SHARED / "datasets"
KEIMA3_RAW = DATASETS / "keima3" / "raw"
NEWGAME8 = DATASETS / "newgame8"
POSITIVE_TEST = DATASETS / "animeface_patches" / "positive_test"
CLIPS = [SHARED / "videos" / name for name in ("sakurasou_480p.mp4", "onepiece_480p.mp4", "popteamepic_348p_60fps.mp4")]
SHOTS = (1, 3, 5)
TRIALS = 3
OUT = REPO / "benchmarks" / "out" / "open_set"


def run(argv: list[str], log: list[str]) -> str:
    """`streamer ARGV` in a subprocess; its stdout. Exits with its error when it fails."""
    printable = "streamer " + shlex.join(argv)
    log.append(printable)
    print(f"  $ {printable}", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "streamer", *argv], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def rel(path: Path) -> str:
    return os.path.relpath(path, REPO)


def link_tree(target: Path, sources: dict[str, list[Path]]) -> Path:
    """target/<name>/<file> symlinks (a fresh folder), so nothing in ../shared is copied."""
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            path.unlink() if path.is_symlink() or path.is_file() else path.rmdir()
        target.rmdir()
    for name, files in sources.items():
        folder = target / name
        folder.mkdir(parents=True, exist_ok=True)
        for index, file in enumerate(files):
            (folder / f"{index:03d}_{file.name}").symlink_to(file.resolve())
    return target


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg") and not p.name.startswith("."))


def newgame8_faces() -> dict[str, list[Path]]:
    names = sorted(p.name for p in (NEWGAME8 / "train").iterdir() if p.is_dir())
    return {n: images(NEWGAME8 / "train" / n) + (images(NEWGAME8 / "test" / n) if (NEWGAME8 / "test" / n).is_dir() else []) for n in names}


def keima3_pictures() -> dict[str, list[Path]]:
    return {p.name: images(p) for p in sorted(KEIMA3_RAW.iterdir()) if p.is_dir()}


def train_model(dataset: str, work: Path, train_args: list[str], log: list[str]) -> tuple[Path, Path]:
    """(model.onnx, test folder), trained at defaults (plus train_args)."""
    work.mkdir(parents=True, exist_ok=True)
    if dataset == "keima3":
        data = work / "faces"
        if not (data / "test").is_dir():
            run(["prepare", rel(KEIMA3_RAW), rel(data), "-q", "-f"], log)
    else:
        data = NEWGAME8
    keras_path, onnx_path = work / "model.keras", work / "model.onnx"
    if not onnx_path.is_file():
        started = time.monotonic()
        run(["train", rel(data), "-o", rel(keras_path), "-q", "-f", *train_args], log)
        run(["export", rel(keras_path), "-o", rel(onnx_path), "-q", "-f"], log)
        print(f"  trained and exported in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return onnx_path, data / "test"


def foreign_folder(dataset: str, work: Path) -> Path:
    """The other dataset's characters minus names the model knows, plus positive_test."""
    other = newgame8_faces() if dataset == "keima3" else keima3_pictures()
    mine = set(keima3_pictures()) if dataset == "keima3" else set(newgame8_faces())
    sources = {name: files for name, files in other.items() if name not in mine}
    sources["animeface_positive_test"] = images(POSITIVE_TEST)
    return link_tree(work / "foreign", sources)


def evaluate(model: Path, test_dir: Path, foreign: Path, work: Path, log: list[str], galleries: list[Path] = ()) -> dict:
    argv = ["evaluate", rel(model), rel(test_dir), "--foreign", rel(foreign), "--json", "-q", "-f", "-o", rel(work)]
    for gallery in galleries:
        argv += ["--gallery", rel(gallery)]
    return json.loads(run(argv, log))


def clip_unknown_share(model: Path, work: Path, log: list[str]) -> dict:
    """Face records named `unknown` when annotating each real clip."""
    shares = {}
    work.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS:
        sidecar = work / f"{clip.stem}.jsonl"
        run(["annotate", rel(clip), "-o", rel(work / f"{clip.stem}.mp4"), "-m", rel(model), "--sidecar", rel(sidecar), "-q", "-f"], log)
        names = [json.loads(line).get("name") for line in sidecar.read_text().splitlines() if '"type": "face"' in line]
        shares[clip.name] = {"faces": len(names), "unknown": sum(n == "unknown" for n in names)}
    return shares


def enrollment(model: Path, work: Path, log: list[str]) -> dict:
    import numpy as np

    faces = {n: files for n, files in newgame8_faces().items() if n != "takimoto_hifumi"}
    positive = link_tree(work / "positive_test", {"animeface": images(POSITIVE_TEST)})
    results = {}
    for k in SHOTS:
        accuracy, rejection = [], []
        for trial in range(TRIALS):
            rng = np.random.default_rng(100 * k + trial)
            shots, rest = {}, {}
            for name, files in faces.items():
                order = rng.permutation(len(files))
                shots[name] = [files[i] for i in order[:k]]
                rest[name] = [files[i] for i in order[k:]]
            trial_dir = work / f"k{k}_trial{trial}"
            enroll_dir = link_tree(trial_dir / "enroll", shots)
            test_dir = link_tree(trial_dir / "test", rest)
            gallery = trial_dir / "gallery.json"
            run(["enroll", rel(model), rel(enroll_dir), "-o", rel(gallery), "-q", "-f"], log)
            figures = evaluate(model, test_dir, positive, trial_dir / "evaluation", log, [gallery])
            accuracy.append(figures["accuracy"])
            rejection.append(figures["foreign"]["rejection_rate"])
        results[k] = {"accuracy": float(np.mean(accuracy)), "rejection": float(np.mean(rejection)),
                      "trials": TRIALS, "accuracy_per_trial": accuracy}
    return results


def cost_per_face(model: Path, faces: Path, repeats: int = 40) -> float:
    """Median milliseconds of one face through the runtime's classifier, one thread (how the
    labeler runs it beside the decoder and encoder)."""
    sys.path.insert(0, str(REPO))
    from streamer.classifier import OnnxClassifier
    from streamer.image_files import list_images_recursive, read_image

    classifier = OnnxClassifier(model, intra_op_threads=1)
    crop = read_image(list_images_recursive(faces)[0])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        classifier.predict([crop])
        times.append(time.perf_counter() - started)
    return 1000 * sorted(times)[len(times) // 2]


def measure(dataset: str, model: Path, test_dir: Path, work: Path, log: list[str]) -> dict:
    foreign = foreign_folder(dataset, work)
    figures = evaluate(model, test_dir, foreign, work / "evaluation", log)
    open_set = figures["threshold_source"] != "the runtime's default for a closed-set model"
    row = {
        "dataset": dataset, "model": rel(model), "open_set": open_set, "threshold": figures["threshold"],
        "known": {"correct": figures["correct"], "total": figures["total"], "unknown": figures["unknown"]},
        "foreign": {k: figures["foreign"][k] for k in ("total", "rejected", "rejection_rate")},
        "ms_per_face": cost_per_face(model, test_dir),
    }
    if dataset == "keima3":
        row["clips"] = clip_unknown_share(model, work / "clips", log)
        if open_set:
            row["enrollment"] = enrollment(model, work / "enrollment", log)
    return row


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def print_table(rows: list[dict]) -> None:
    print("| model | threshold | known test named right | foreign rejected | real clips: face records unknown | "
          "enrollment k=1 / 3 / 5 (foreign rejected at k=5) | ms per face |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for row in rows:
        known = row["known"]
        clips = row.get("clips")
        clip_text = "–"
        if clips:
            faces = sum(c["faces"] for c in clips.values())
            unknown = sum(c["unknown"] for c in clips.values())
            clip_text = f"{unknown}/{faces} = {pct(unknown / faces if faces else None)}"
        enroll = row.get("enrollment")
        enroll_text = "–"
        if enroll:
            enroll_text = " / ".join(pct(enroll[k]["accuracy"]) for k in SHOTS) + f" ({pct(enroll[SHOTS[-1]]['rejection'])})"
        print(
            f"| {row['dataset']} {'open-set' if row['open_set'] else 'closed-set'} | {row['threshold']:.3f} | "
            f"{known['correct']}/{known['total']} ({known['unknown']} unknown) | "
            f"{row['foreign']['rejected']}/{row['foreign']['total']} = {pct(row['foreign']['rejection_rate'])} | "
            f"{clip_text} | {enroll_text} | {row['ms_per_face']:.1f} |"
        )
    for row in rows:
        for clip, c in (row.get("clips") or {}).items():
            print(f"  {row['dataset']} on {clip}: {c['unknown']}/{c['faces']} face records unknown")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="DATASET=MODEL.onnx",
                        help="measure this model instead of training one (keima3=..., newgame8=...)")
    parser.add_argument("--datasets", nargs="+", default=["keima3", "newgame8"], choices=["keima3", "newgame8"])
    parser.add_argument("--out", type=Path, default=OUT, help=f"work folder (default {rel(OUT)})")
    parser.add_argument("--train-args", default="", help="extra `streamer train` options, e.g. '--backbone mobilenetv2'")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.model)
    rows, log = [], []
    started = time.monotonic()
    for dataset in args.datasets:
        print(f"{dataset}:", file=sys.stderr)
        work = args.out / dataset
        work.mkdir(parents=True, exist_ok=True)
        if dataset in given:
            model = Path(given[dataset])
            test_dir = (work / "faces" / "test") if dataset == "keima3" else NEWGAME8 / "test"
            if dataset == "keima3" and not test_dir.is_dir():
                run(["prepare", rel(KEIMA3_RAW), rel(work / "faces"), "-q", "-f"], log)
        else:
            model, test_dir = train_model(dataset, work, shlex.split(args.train_args), log)
        rows.append(measure(dataset, model, test_dir, work, log))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "commands": log}, indent=2) + "\n", encoding="utf-8")
    print_table(rows)
    print(f"({time.monotonic() - started:.0f} s; reproduce: python benchmarks/open_set.py"
          f"{''.join(' --model ' + m for m in args.model)}{' --train-args ' + shlex.quote(args.train_args) if args.train_args else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
