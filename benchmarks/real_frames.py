"""Who is on screen in real episode frames: the whole product, as a user runs it. Prints a table.

    python benchmarks/real_frames.py                        # cascade and learned detector
    python benchmarks/real_frames.py --detectors learned

For each detector:
  1. `streamer prepare ../shared/datasets/onepiece6/raw` with that detector (posters, fan art,
     screenshots of six One Piece characters; not the episode frames);
  2. `streamer train` at its defaults, `streamer export`;
  3. `streamer annotate` the real episode frames (../shared/datasets/face_boxes/episodes/images)
     with that classifier and detector;
  4. `streamer score` the sidecar against the hand-labelled, named faces, on the held-out third
     of the frames (the learned detector trained on the rest) and on all 222;
  5. with `--enroll` (learned detector only): the loop a user closes with `streamer faces` and
     `streamer enroll`, with perfect naming: the labelled faces of the six in the other two
     thirds of the frames, cut with the model's crop rule, enrolled into a gallery; then
     `annotate --gallery` and `score` on the held-out third again.

Every step is the real command in a subprocess (printed); outputs go to
benchmarks/out/real_frames/ (git-ignored). About 6 minutes per detector on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_accuracy import REPO, SHARED, run_step  # noqa: E402

RAW = SHARED / "datasets" / "onepiece6" / "raw"
EPISODES = SHARED / "datasets" / "face_boxes" / "episodes"
WEIGHTS = SHARED / "models" / "mobilenet_2_5_224_tf_no_top.h5"
DETECTORS = {"cascade": ["--detector", "cascade"], "learned": []}


def bench(name: str, out: Path, env: dict[str, str], log: list[str], train_args: list[str], reuse: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    detector = DETECTORS[name]
    faces, model_keras, model = out / "faces", out / "onepiece6.keras", out / "onepiece6.onnx"
    if not (reuse and model.is_file()):
        run_step("prepare", ["prepare", str(RAW), str(faces), "-f", "-q", *detector], env, log)
        run_step("train", ["train", str(faces), "-o", str(model_keras), "--weights", str(WEIGHTS), "-f", "-q", *train_args], env, log)
        run_step("export", ["export", str(model_keras), "-o", str(model), "-f", "-q"], env, log)
    report = json.loads((faces / "prepare.json").read_text())
    sidecar = out / "episodes.jsonl"
    run_step("annotate", ["annotate", str(EPISODES / "images"), "-o", str(out / "labelled"), "-m", str(model),
                          "--sidecar", str(sidecar), "-f", "-q", *detector], env, log)
    scores = {}
    for split in ("test", None):
        argv = ["score", str(sidecar), str(EPISODES), "--json"] + (["--split", split] if split else [])
        _, stdout = run_step("score", argv, env, log)
        scores[split or "all"] = json.loads(stdout)
    prepared = sum(len(list((faces / part).rglob("*.png"))) for part in ("train", "test"))
    return {"detector": name, "prepared_faces": prepared, "scores": scores, "prepare": report}


def cut_labelled_faces(model: Path, folder: Path) -> dict[str, int]:
    """The train-split frames' labelled faces of the six, cut as the runtime cuts them for
    `model`, into folder/<name>/: what `streamer faces` plus a user's renaming would give."""
    import cv2

    from gallery_prototypes import labelled_faces
    from streamer.classifier import OnnxClassifier

    classifier = OnnxClassifier(model)
    crops, labels = labelled_faces(classifier, "train")
    shutil.rmtree(folder, ignore_errors=True)
    counts: dict[str, int] = {}
    for index, (crop, label) in enumerate(zip(crops, labels)):
        if label < 0:
            continue
        name = classifier.labels[label]
        (folder / name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name / f"{index:04d}.png"), crop)
        counts[name] = counts.get(name, 0) + 1
    return counts


def bench_enrolled(out: Path, env: dict[str, str], log: list[str]) -> dict:
    model, gallery, sidecar = out / "onepiece6.onnx", out / "episodes_gallery.json", out / "episodes_enrolled.jsonl"
    counts = cut_labelled_faces(model, out / "enroll")
    print(f"  enrolling labelled faces of the train-split frames: {counts}")
    run_step("enroll", ["enroll", str(model), str(out / "enroll"), "-o", str(gallery), "-f", "-q"], env, log)
    run_step("annotate", ["annotate", str(EPISODES / "images"), "-o", str(out / "labelled_enrolled"), "-m", str(model),
                          "--gallery", str(gallery), "--sidecar", str(sidecar), "-f", "-q"], env, log)
    _, stdout = run_step("score", ["score", str(sidecar), str(EPISODES), "--json", "--split", "test"], env, log)
    return {"detector": "learned, + gallery of train-split frames", "enrolled": counts, "scores": {"test": json.loads(stdout)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--train-args", default="", help='extra `streamer train` options, e.g. "--augment 0.5"')
    parser.add_argument("--enroll", action="store_true",
                        help="also enroll the train-split frames' labelled faces and score the held-out ones again")
    parser.add_argument("--reuse", action="store_true", help="keep a model already trained in --out")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "real_frames")
    args = parser.parse_args(argv)
    env = dict(os.environ, STREAMER_ASSETS=str(SHARED), PYTHONPATH=str(REPO))
    out = args.out
    results, log = [], []
    for name in args.detectors:
        print(f"{name}:", flush=True)
        results.append(bench(name, out / name, env, log, shlex.split(args.train_args), args.reuse))
        if args.enroll and name == "learned":
            enrolled = bench_enrolled(out / name, env, log)
            results.append({**results[-1], **enrolled})
    images = sum(1 for _ in RAW.rglob("*") if _.is_file())
    print()
    print("| detector | frames | faces of the six | named right | named wrong | unknown | missed | `other` called unknown | false faces per frame | faces found by prepare |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        for split, label in (("test", "held-out (70)"), ("all", "all (222)")):
            if split not in result["scores"]:
                continue
            s = result["scores"][split]
            known, other = s["known"], s["other"]
            n = max(1, known["faces"])
            print(
                f"| {result['detector']} | {label} | {known['faces']} | {known['right'] / n:.3f} | {known['wrong'] / n:.3f} "
                f"| {known['unknown'] / n:.3f} | {known['missed'] / n:.3f} "
                f"| {other['unknown']}/{other['faces']} | {s['false_faces_per_picture']:.2f} | {result['prepared_faces']} of {images} |"
            )
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
