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
     of the frames (the learned detector trained on the rest) and on all 222.

Every step is the real command in a subprocess (printed); outputs go to
benchmarks/out/real_frames/ (git-ignored). About 6 minutes per detector on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_accuracy import REPO, SHARED, run_step  # noqa: E402

RAW = SHARED / "datasets" / "onepiece6" / "raw"
EPISODES = SHARED / "datasets" / "face_boxes" / "episodes"
WEIGHTS = SHARED / "models" / "mobilenet_2_5_224_tf_no_top.h5"
DETECTORS = {"cascade": ["--detector", "cascade"], "learned": []}


def bench(name: str, out: Path, env: dict[str, str], log: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    detector = DETECTORS[name]
    faces, model_keras, model = out / "faces", out / "onepiece6.keras", out / "onepiece6.onnx"
    run_step("prepare", ["prepare", str(RAW), str(faces), "-f", "-q", *detector], env, log)
    report = json.loads((faces / "prepare.json").read_text())
    run_step("train", ["train", str(faces), "-o", str(model_keras), "--weights", str(WEIGHTS), "-f", "-q"], env, log)
    run_step("export", ["export", str(model_keras), "-o", str(model), "-f", "-q"], env, log)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    args = parser.parse_args(argv)
    env = dict(os.environ, STREAMER_ASSETS=str(SHARED), PYTHONPATH=str(REPO))
    out = REPO / "benchmarks" / "out" / "real_frames"
    results, log = [], []
    for name in args.detectors:
        print(f"{name}:", flush=True)
        results.append(bench(name, out / name, env, log))
    images = sum(1 for _ in RAW.rglob("*") if _.is_file())
    print()
    print("| detector | frames | faces of the six | named right | named wrong | unknown | missed | `other` called unknown | false faces per frame | faces found by prepare |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        for split, label in (("test", "held-out (70)"), ("all", "all (222)")):
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
