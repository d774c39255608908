"""What skipping held pictures saves and costs: the recognition loop with and without it.

    python benchmarks/holds.py [--model M.onnx] [--repeat 2]

On each real clip in ../shared/videos (and the 1080p sakurasou copy the throughput benchmark
makes, when it is there), the loop runs twice in one process, interleaved, best of `--repeat`:
once as shipped (`LoopSettings()`: no detection round and no flow on a held picture,
streamer.holds) and once with `LoopSettings(skip_holds=False)`. It prints per clip:
detection rounds run and skipped, loop milliseconds per frame (decoding excluded), how many of
the face records agree between the two (same frame, IoU >= 0.5, same name), and recall and
precision at IoU 0.4 on the hand-labelled frames of `datasets/face_boxes/clips.json`.
Faces only without `--model` (names then agree trivially).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("STREAMER_ASSETS") or REPO.parent / "shared")

from streamer.detection_scoring import match_detections  # noqa: E402
from streamer.detections import box_iou  # noqa: E402
from streamer.detectors import load_detector  # noqa: E402
from streamer.pipeline import LoopSettings, build_loop  # noqa: E402
from streamer.sources import FileSource  # noqa: E402

CLIPS = ("videos/sakurasou_480p.mp4", "videos/onepiece_480p.mp4", "videos/popteamepic_348p_60fps.mp4")
UPSCALED = REPO / "benchmarks" / "out" / "sakurasou_1920x1080.mp4"


def decoded(path: Path) -> list:
    with FileSource(path, threaded=False) as source:
        return list(source)


def run_loop(frames: list, detector, classifier, settings: LoopSettings) -> tuple[list, float, int, int]:
    """(per-frame Detections, loop ms per frame, rounds run, rounds skipped as held)."""
    loop = build_loop(detector, classifier, settings)
    started = time.perf_counter()
    results = [loop.process(frame) for frame in frames]
    elapsed = time.perf_counter() - started
    return results, 1e3 * elapsed / max(1, len(frames)), loop.rounds, loop.held_rounds


def agreement(first: list, second: list) -> tuple[int, int]:
    """(records of `first` that `second` has too in that frame: IoU >= 0.5, same name; records of `first`)."""
    agreed = total = 0
    for a, b in zip(first, second):
        total += len(a)
        if not len(a) or not len(b):
            continue
        overlaps = box_iou(a.xyxy, b.xyxy)
        for row in range(len(a)):
            same = (overlaps[row] >= 0.5) & (np.asarray(b.class_name) == a.class_name[row])
            agreed += bool(same.any())
    return agreed, total


def truth_by_frame(video: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    spec = json.loads((SHARED / "datasets" / "face_boxes" / "clips.json").read_text())
    truths = {}
    for entry in spec["frames"]:
        if entry["video"] == video:
            faces = entry["faces"]
            truth = np.asarray([f["xyxy"] for f in faces if not f.get("ignore")], np.float32).reshape(-1, 4)
            ignored = np.asarray([f["xyxy"] for f in faces if f.get("ignore")], np.float32).reshape(-1, 4)
            truths[int(entry["frame"])] = (truth, ignored)
    return truths


def labelled_scores(results: list, truths: dict) -> tuple[int, int, int]:
    """(faces found, labelled faces, boxes drawn that are no face) over the labelled frames."""
    found = faces = false = 0
    for index, (truth, ignored) in truths.items():
        if index >= len(results):
            continue
        drawn = results[index]
        match = match_detections(drawn.xyxy, np.ones(len(drawn)), truth, ignored, 0.4)
        found += int(match.hits.sum())
        faces += match.truths
        false += int((~match.hits).sum())
    return found, faces, false


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="classifier ONNX (default: faces only)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs per setting; the best time counts")
    args = parser.parse_args(argv)

    from streamer.classifier import OnnxClassifier

    detector = load_detector(None)
    classifier = OnnxClassifier(args.model) if args.model else None
    clips = [(clip, SHARED / clip) for clip in CLIPS] + ([(UPSCALED.name, UPSCALED)] if UPSCALED.is_file() else [])
    print("| clip | frames | setting | rounds run | rounds skipped (held) | loop ms/frame | records | agree with the other | labelled faces found | false boxes on them |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    totals = {True: [0, 0, 0], False: [0, 0, 0]}
    for name, path in clips:
        frames = decoded(path)
        truths = truth_by_frame(name)
        best: dict[bool, tuple] = {}
        for _ in range(max(1, args.repeat)):
            for skip in (False, True):
                run = run_loop(frames, detector, classifier, LoopSettings(skip_holds=skip))
                if skip not in best or run[1] < best[skip][1]:
                    best[skip] = run
        for skip in (False, True):
            results, ms, rounds, held = best[skip]
            agreed, records = agreement(results, best[not skip][0])
            found, faces, false = labelled_scores(results, truths)
            for slot, value in enumerate((found, faces, false)):
                totals[skip][slot] += value
            label = "skip held pictures (default)" if skip else "every round, every flow"
            labelled = f"{found}/{faces}" if truths else "–"
            print(
                f"| {Path(name).name} | {len(frames)} | {label} | {rounds} | {held} | {ms:.2f} | {records} | "
                f"{agreed / max(1, records):.3f} | {labelled} | {false if truths else '–'} |"
            )
        del frames
    for skip in (False, True):
        found, faces, false = totals[skip]
        label = "skip held pictures" if skip else "every round"
        print(f"{label}: labelled faces found {found}/{faces}, false boxes on labelled frames {false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
