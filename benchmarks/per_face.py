"""Where a face on screen costs time: the recognition loop alone on the 8-face 1080p clip.

    python benchmarks/per_face.py [--model M.onnx] [--repeat 3]

The throughput benchmark's 8-face clip (`faces8_1920x1080_5s.mp4` in benchmarks/out, built
here when missing, the same way) is decoded once; then, on one thread and without an encoder,
best of `--repeat`:
- the whole loop as `annotate` runs it: ms per frame, tracks, classifier looks, and how many
  boxes flow followed and for how many it sought new corner points (the rest carried theirs);
- the tracker alone (the detector's faces every `detect_every` frames): ms per frame;
- drawing: ms per frame for the loop's boxes and tags on this clip.
Without `--model`, the `make demo` model (demo-out/model/model.onnx).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import throughput_inputs as inputs  # noqa: E402
from benchmarks.throughput import DEMO_MODEL, FACE_SIDE  # noqa: E402
from streamer.classifier import OnnxClassifier  # noqa: E402
from streamer.detectors import detect_frame, load_detector  # noqa: E402
from streamer.overlay import draw  # noqa: E402
from streamer.pipeline import LoopSettings, build_loop  # noqa: E402
from streamer.sources import FileSource  # noqa: E402
from streamer.track import FaceTracker  # noqa: E402

SECONDS = 5.0
FACES = 8


def clip(out: Path) -> Path:
    background = inputs.upscaled(inputs.ONEPIECE, out / f"onepiece_1920x1080_{SECONDS:g}s.mp4", 1920, 1080, SECONDS)
    return inputs.with_faces(background, out / f"faces{FACES}_1920x1080_{SECONDS:g}s.mp4", inputs.face_stamps(FACES, FACE_SIDE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO_MODEL), help="classifier ONNX (default: the make demo model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = clip(out)
    with FileSource(path, threaded=False) as source:
        frames = list(source)
    classifier, detector = OnnxClassifier(args.model), load_detector(None, LoopSettings().detect_width)

    loop_ms, tracker_ms, draw_ms = [], [], []
    for _ in range(args.repeat):
        loop = build_loop(detector, classifier, LoopSettings())
        labelled, ids = [], set()
        started = time.perf_counter()
        for frame in frames:
            labelled.append(loop.process(frame))
        loop_ms.append(1e3 * (time.perf_counter() - started) / len(frames))
        for result in labelled:
            ids |= set(result.tracker_id.tolist())
        # The tracker alone, with the detector's faces (all passes) every `detect_every` frames.
        every = LoopSettings().detect_every
        detections = {f.index: detect_frame(detector, f) for i, f in enumerate(frames) if i % every == 0}
        tracker = FaceTracker(max_missed=3)
        started = time.perf_counter()
        for frame in frames:
            tracker.update(frame.gray, detections.get(frame.index))
        tracker_ms.append(1e3 * (time.perf_counter() - started) / len(frames))
        started = time.perf_counter()
        for frame, result in zip(frames, labelled):
            draw(frame, result)
        draw_ms.append(1e3 * (time.perf_counter() - started) / len(frames))

    stats = loop.labeler.stats
    print(f"{path.name}: {len(frames)} frames, {len(ids)} tracks, {loop.rounds} detection rounds, {loop.cuts} cut(s)")
    print(f"loop (as annotate runs it):  {min(loop_ms):.2f} ms a frame (best of {args.repeat})")
    print(f"  classifier looks:          {stats.crops} crops in {stats.batches} batches")
    print(f"  flow:                      {loop.tracker.flows} boxes followed, {loop.tracker.seeks} corner searches")
    print(f"tracker alone:               {min(tracker_ms):.2f} ms a frame")
    print(f"drawing (copying the frame): {min(draw_ms):.2f} ms a frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
