"""The picture of faces boxed in the three real clips (docs/img/real_clips_faces.png).

    python benchmarks/clip_faces_sheet.py            # writes benchmarks/out/real_clips_faces.png
    python benchmarks/clip_faces_sheet.py --update-docs

Runs `streamer annotate CLIP -o out.mp4` (no classifier: faces only, the shipped detector, or
`--detector`) on each real clip in ../shared/videos, then tiles three frames of each labelled
output: the frames hand-labelled in face_boxes/clips.json, first, middle and last of each clip,
so the picture shows the frames the detector benchmark scores. One row per clip, 320x180 tiles.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_accuracy import REPO, SHARED, run_step  # noqa: E402

CLIPS = ("onepiece_480p.mp4", "sakurasou_480p.mp4", "popteamepic_348p_60fps.mp4")
TILE = (320, 180)
DOCS_IMAGE = REPO / "docs" / "img" / "real_clips_faces.png"


def chosen_frames(video: str) -> list[int]:
    """First, middle and last of the clip's hand-labelled frames that hold a face."""
    spec = json.loads((SHARED / "datasets" / "face_boxes" / "clips.json").read_text())
    frames = sorted(int(entry["frame"]) for entry in spec["frames"]
                    if Path(entry["video"]).name == video and entry["faces"])
    return sorted({frames[0], frames[len(frames) // 2], frames[-1]}) if frames else []


def tiles_of(video: Path, frames: list[int]) -> list[np.ndarray]:
    wanted, tiles = set(frames), []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                tiles.append(cv2.resize(frame.to_ndarray(format="bgr24"), TILE, interpolation=cv2.INTER_AREA))
            if index >= max(frames):
                break
    return tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default=None, help="cascade or a detector ONNX (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "clip_faces")
    parser.add_argument("--update-docs", action="store_true", help=f"copy the picture to {DOCS_IMAGE.relative_to(REPO)}")
    args = parser.parse_args(argv)
    env = dict(os.environ, STREAMER_ASSETS=str(SHARED), PYTHONPATH=str(REPO))
    args.out.mkdir(parents=True, exist_ok=True)
    rows, log = [], []
    for clip in CLIPS:
        labelled = args.out / clip
        detector = ["--detector", args.detector] if args.detector else []
        run_step(f"annotate {clip}", ["annotate", str(SHARED / "videos" / clip), "-o", str(labelled), "-f", "-q", *detector],
                 env, log)
        tiles = tiles_of(labelled, chosen_frames(clip))
        tiles += [np.zeros((TILE[1], TILE[0], 3), np.uint8)] * (3 - len(tiles))
        rows.append(np.hstack(tiles))
    picture = args.out.parent / "real_clips_faces.png"
    cv2.imwrite(str(picture), np.vstack(rows))
    print(f"wrote {picture}")
    if args.update_docs:
        shutil.copyfile(picture, DOCS_IMAGE)
        print(f"copied to {DOCS_IMAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
