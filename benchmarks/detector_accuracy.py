"""Face detection on real and illustrated pictures: the cascade and the learned detector side by side.

    python benchmarks/detector_accuracy.py                          # the shipped detector vs the cascade
    python benchmarks/detector_accuracy.py --detector runs/face_detector.onnx

Data (all in ../shared/datasets/face_boxes, read in place):
- illustrations: the upstream test split (40 pixiv pictures);
- episodes: the held-out third of the real One Piece frames (`streamer.face_boxes.split_of`;
  never trained on);
- clips: the hand-labelled frames of the shared clips (`clips.json`, by decoded frame index);
- negative: every frame of videos/negatives/southpark_cartoon.mp4 (no anime face: every box is false).

Both detectors run as the runtime runs them (`streamer.detectors.detect_frame` on decoded
frames; the cascade with the loop's settings, min neighbours 5), at the default detection width.
Recall, precision, AP at IoU 0.4 and 0.5 (matching: `streamer.detection_scoring`), milliseconds
per call on a 1080p frame on one thread, and a PNG of the precision-recall curves
(benchmarks/out/detector_pr.png; --plot to choose). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("STREAMER_ASSETS") or REPO.parent / "shared")
os.environ.setdefault("STREAMER_ASSETS", str(SHARED))
BOXES = SHARED / "datasets" / "face_boxes"
CURVE_THRESHOLD = 0.05
NEGATIVE_CLIP = SHARED / "videos" / "negatives" / "southpark_cartoon.mp4"

from streamer.detection_scoring import PrecisionRecall, match_detections, precision_recall  # noqa: E402
from streamer.detectors import DEFAULT_DETECT_WIDTH, detect_frame, load_detector  # noqa: E402
from streamer.face_boxes import read_pictures  # noqa: E402
from streamer.frames import BGR24, Frame  # noqa: E402
from streamer.sources import FileSource  # noqa: E402


def still_frame(image: np.ndarray) -> Frame:
    return Frame(image=image, index=0, pts=0, time_base=Fraction(1, 1), time=0.0, pixel_format=BGR24)


def picture_sets() -> dict[str, list[tuple[Frame, np.ndarray, np.ndarray]]]:
    """name → [(frame, truth boxes, ignored boxes)]."""
    sets: dict[str, list] = {}
    for name, path, splits in (
        ("illustrations (test split)", BOXES / "illustrations", ("test",)),
        ("episodes (held-out frames)", BOXES / "episodes", ("test",)),
    ):
        items = []
        for picture in read_pictures(path, splits):
            image = cv2.imread(str(picture.path), cv2.IMREAD_COLOR)
            items.append((still_frame(image), picture.boxes(), picture.ignored_boxes()))
        sets[name] = items
    sets["clip frames"] = clip_frames()
    return sets


def clip_frames() -> list[tuple[Frame, np.ndarray, np.ndarray]]:
    spec = json.loads((BOXES / "clips.json").read_text())
    wanted: dict[str, dict[int, dict]] = {}
    for entry in spec["frames"]:
        wanted.setdefault(entry["video"], {})[int(entry["frame"])] = entry
    items = []
    for video, frames in sorted(wanted.items()):
        with FileSource(SHARED / video, threaded=False) as source:
            for frame in source:
                entry = frames.get(frame.index)
                if entry is not None:
                    faces = entry["faces"]
                    truth = np.asarray([f["xyxy"] for f in faces if not f.get("ignore")], np.float32).reshape(-1, 4)
                    ignored = np.asarray([f["xyxy"] for f in faces if f.get("ignore")], np.float32).reshape(-1, 4)
                    items.append((frame, truth, ignored))
                if frame.index >= max(frames):
                    break
    return items


def score(detector, items, iou: float) -> PrecisionRecall:
    """The whole precision-recall curve: the learned detector runs with a near-zero threshold
    here, and `PrecisionRecall.at` reads off its operating point."""
    if hasattr(detector, "contract"):
        from streamer.detectors.onnx_face import OnnxFaceDetector

        detector = OnnxFaceDetector(detector.path, detector.detect_width, threshold=CURVE_THRESHOLD, zooms=detector.zooms)
    results = []
    for frame, truth, ignored in items:
        found = detect_frame(detector, frame)
        results.append(match_detections(found.xyxy, found.confidence, truth, ignored, iou))
    return precision_recall(results)


SIZE_BUCKETS = ((0, 32), (32, 64), (64, 128), (128, 10_000))  # face height in the picture's pixels


def recall_by_size(detector, items, iou: float = 0.4) -> list[tuple[str, int, float]]:
    """(bucket, faces, recall at the detector's own threshold) per face-height bucket."""
    found_by_bucket = {b: [0, 0] for b in SIZE_BUCKETS}
    for frame, truth, ignored in items:
        found = detect_frame(detector, frame)
        result = match_detections(found.xyxy, found.confidence, truth, ignored, iou)
        for box, match in zip(truth, result.matched_truth):
            height = box[3] - box[1]
            bucket = next(b for b in SIZE_BUCKETS if b[0] <= height < b[1])
            found_by_bucket[bucket][0] += 1
            found_by_bucket[bucket][1] += int(match >= 0)
    return [(f"{lo}-{hi if hi < 10_000 else ''} px", n, hits / n if n else float("nan")) for (lo, hi), (n, hits) in found_by_bucket.items()]


def negative_faces(detector) -> tuple[int, int]:
    boxes = frames = 0
    with FileSource(NEGATIVE_CLIP, threaded=False) as source:
        for frame in source:
            boxes += len(detect_frame(detector, frame))
            frames += 1
    return boxes, frames


def ms_per_call(detector, repeat: int = 30) -> float:
    image = cv2.imread(str(sorted((BOXES / "episodes" / "images").glob("*.jpg"))[0]))
    frame = still_frame(cv2.resize(image, (1920, 1080)))
    detect_frame(detector, frame)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        detect_frame(detector, frame)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default=None, help="learned detector ONNX (default: the shipped one)")
    parser.add_argument("--detect-width", type=int, default=DEFAULT_DETECT_WIDTH)
    parser.add_argument("--threshold", type=float, default=None,
                        help="the learned detector's operating point (default: its metadata's)")
    parser.add_argument("--one-pass", action="store_true",
                        help="the learned detector at the detection width only, without the smaller passes")
    parser.add_argument("--zooms", default=None, metavar="Z,Z,...",
                        help="the learned detector's passes, as fractions of the detection width (default: the runtime's)")
    parser.add_argument("--plot", default=str(REPO / "benchmarks" / "out" / "detector_pr.png"))
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    contenders = {
        "cascade": load_detector("cascade", args.detect_width),
        "learned": load_detector(args.detector, args.detect_width),
    }
    learned = contenders["learned"]
    if args.threshold is not None:
        learned.contract = dataclasses.replace(learned.contract, score_threshold=args.threshold)
    if args.zooms:
        learned.zooms = tuple(float(z) for z in args.zooms.split(","))
    if args.one_pass:
        learned.zooms = (1.0,)
    print(f"learned detector: {learned.name}, threshold {learned.contract.score_threshold}; detect width {args.detect_width}")
    sets = picture_sets()
    rows, curves = [], {}
    for set_name, items in sets.items():
        faces = sum(len(t) for _, t, _ in items)
        for name, detector in contenders.items():
            at = {}
            for iou in (0.4, 0.5):
                pr = score(detector, items, iou)
                threshold = getattr(getattr(detector, "contract", None), "score_threshold", 0.0)
                at[iou] = (pr, *pr.at(threshold))
            pr4, recall4, precision4, false4 = at[0.4]
            curves[(set_name, name)] = pr4
            rows.append(
                f"| {set_name} ({len(items)} pictures, {faces} faces) | {name} | {recall4:.3f} | {precision4:.3f} "
                f"| {pr4.average_precision:.3f} | {at[0.5][1]:.3f} | {at[0.5][2]:.3f} | {at[0.5][0].average_precision:.3f} "
                f"| {pr4.best_recall_at_precision(0.9):.3f} | {false4 / max(1, len(items)):.2f} |"
            )
    print()
    print("| pictures | detector | recall @0.4 | precision @0.4 | AP @0.4 | recall @0.5 | precision @0.5 | AP @0.5 "
          "| best recall at precision >= 0.9 (@0.4) | false faces per picture |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    episodes = sets["episodes (held-out frames)"]
    for name, detector in contenders.items():
        parts = ", ".join(f"{bucket} {recall:.2f} ({n})" for bucket, n, recall in recall_by_size(detector, episodes))
        print(f"held-out episode faces found by height ({name}, IoU 0.4, its threshold): {parts}")
    print()
    for name, detector in contenders.items():
        boxes, frames = negative_faces(detector)
        print(f"negative clip ({frames} frames, no anime face): {name} {boxes} false faces ({boxes / max(1, frames):.3f} per frame)")
    for name, detector in contenders.items():
        print(f"cost per call, 1080p frame at detect width {args.detect_width}, one thread: {name} {ms_per_call(detector):.1f} ms")
    plot(curves, Path(args.plot))
    print(f"\nprecision-recall curves: {os.path.relpath(args.plot, REPO)}")
    return 0


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({s for s, _ in curves}, key=list(dict.fromkeys(s for s, _ in curves)).index)
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4.4), squeeze=False)
    for axis, set_name in zip(axes[0], names):
        for detector, style in (("learned", "-"), ("cascade", "o")):
            pr = curves.get((set_name, detector))
            if pr is None or not len(pr.recall):
                continue
            if detector == "cascade":  # no score: one operating point
                axis.plot(pr.recall[-1:], pr.precision[-1:], "o", ms=8, label=f"cascade (AP {pr.average_precision:.2f})")
            else:
                axis.plot(pr.recall, pr.precision, style, label=f"learned (AP {pr.average_precision:.2f})")
        axis.axhline(0.9, color="grey", lw=0.6, ls=":")
        axis.axvline(0.9, color="grey", lw=0.6, ls=":")
        axis.set(title=set_name, xlabel="recall (IoU >= 0.4)", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01))
        axis.legend(loc="lower left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


if __name__ == "__main__":
    raise SystemExit(main())
