"""How well `streamer faces` groups the tracks of characters it was not told about.

    python benchmarks/faces.py [--model keima3=M.onnx] [--out benchmarks/out/faces]

On the filmed clips of the keima3 and newgame8 test images (samples/make_clip.py, every
usable image once, with per-frame truth), and on the real episode frames (one face per
image, hand-named), every face set is extracted twice: without a model (the colour
embedding) and with the keima3 open-set model, whose characters are then not in the set
(newgame8's clip and the One Piece frames: all strangers to it). Each kept crop is matched to
a truth face (IoU >= 0.5); a track's identity is its crops' majority. Printed per run:
tracks, crops kept and near-duplicates dropped, purity (the share of tracks whose group's
majority is their own character), completeness (the share of each character's tracks in its
biggest group, over all tracks), and the pairwise precision / recall of "same group" for
"same character".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samples import make_clip as mc  # noqa: E402
from streamer import assets  # noqa: E402
from streamer.detections import box_iou  # noqa: E402
from streamer.faces import extract_faces  # noqa: E402
from streamer.groundtruth import read_truth  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
import numpy as np  # noqa: E402


def scores(identities: list[str], groups: list[str]) -> dict:
    """Purity, completeness and pairwise precision/recall of a grouping (one entry per track)."""
    n = len(identities)
    by_group: dict[str, list[str]] = {}
    for identity, grouped in zip(identities, groups):
        by_group.setdefault(grouped, []).append(identity)
    purity = sum(Counter(members).most_common(1)[0][1] for members in by_group.values()) / n
    by_identity: dict[str, Counter] = {}
    for identity, grouped in zip(identities, groups):
        by_identity.setdefault(identity, Counter())[grouped] += 1
    completeness = sum(c.most_common(1)[0][1] for c in by_identity.values()) / n
    same_group = same_identity = both = 0
    for i, j in combinations(range(n), 2):
        g, s = groups[i] == groups[j], identities[i] == identities[j]
        same_group += g
        same_identity += s
        both += g and s
    return {"purity": purity, "completeness": completeness,
            "pair_precision": both / same_group if same_group else 1.0,
            "pair_recall": both / same_identity if same_identity else 1.0}


def clip_run(preset: str, work: Path, model: Path | None, threshold: float | None = None) -> dict:
    clip, truth_path = work / "clip.mp4", work / "clip.truth.jsonl"
    if not clip.exists():
        asset, split, stems = mc.PRESETS[preset]
        mc.make_clip(assets.resolve(asset) / split, clip, truth_path, select=mc.stem_range(*stems) if stems else None,
                     seconds=None, seed=0, force=True)
    truth = {f.frame: f.faces for f in read_truth(truth_path).frames}
    out = work / ("faces_model" if model else "faces_colour")
    result = extract_faces([clip], out, model, force=True, progress=False, min_cluster=1, cluster_threshold=threshold)
    return _score(out, result, lambda record: _identity(record, truth))


def frames_run(work: Path, model: Path | None, threshold: float | None = None) -> dict:
    """The real episode frames: every labelled face with a name is a track of its own."""
    from streamer.face_boxes import annotation_file, read_pictures

    pictures = read_pictures(annotation_file(assets.resolve(assets.FACE_BOXES) / "episodes"))
    truth = {str(p.path): [f for f in p.faces if f.name and f.name != "other" and not f.ignore] for p in pictures}
    out = work / ("faces_model" if model else "faces_colour")
    result = extract_faces([p.path for p in pictures], out, model, force=True, progress=False, min_cluster=1,
                           cluster_threshold=threshold)

    def identity(record: dict) -> str | None:
        faces = truth.get(record["file"], [])
        box = np.array([record["box"]], float)
        scored = [(box_iou(box, np.array([f.xyxy], float))[0, 0], f.name) for f in faces]
        best = max(scored, default=(0.0, None))
        return best[1] if best[0] >= 0.5 else None

    return _score(out, result, identity)


def _identity(record: dict, truth: dict) -> str | None:
    faces = truth.get(record["frame"], ())
    best = max(faces, key=lambda f: box_iou(np.array([record["box"]], float), np.array([f.box], float))[0, 0], default=None)
    if best is None or box_iou(np.array([record["box"]], float), np.array([best.box], float))[0, 0] < 0.5:
        return None
    return best.name


def _score(out: Path, result, identity_of) -> dict:
    records = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    tracks: dict[tuple, list[dict]] = {}
    for record in records:
        tracks.setdefault((record["file"], record["track"]), []).append(record)
    identities, groups = [], []
    for members in tracks.values():
        names = [n for n in (identity_of(r) for r in members) if n]
        if not names or not members[0]["folder"].startswith("unknown"):
            continue  # a false face, or a named track (not grouped)
        identities.append(Counter(names).most_common(1)[0][0])
        groups.append(members[0]["folder"] if members[0]["folder"] != "unknown" else f"single-{len(groups)}")
    figures = scores(identities, groups) if identities else {}
    return {"tracks": len(tracks), "grouped_tracks": len(identities), "characters": len(set(identities)),
            "groups": len(set(groups)), "crops": result.crops, "near_duplicates": result.near_duplicates,
            "embedding": result.embedding, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "benchmarks" / "out" / "open_set" / "keima3" / "model.onnx",
                        help="an open-set model that knows none of the newgame8 characters (default: keima3's)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "faces")
    parser.add_argument("--sweep", action="store_true", help="also try other grouping thresholds than the defaults")
    args = parser.parse_args()
    rows = []
    runs = [("keima3-test", None, None), ("newgame8-test", None, None), ("newgame8-test", args.model, None)]
    if args.sweep:
        runs += [("newgame8-test", None, t) for t in (0.6, 0.7, 0.9)] + [("newgame8-test", args.model, t) for t in (0.3, 0.4, 0.5)]
    runs += [("episode-frames", None, None), ("episode-frames", args.model, None)]
    for preset, model, threshold in runs:
        work = args.out / preset
        work.mkdir(parents=True, exist_ok=True)
        figures = frames_run(work, model, threshold) if preset == "episode-frames" else clip_run(preset, work, model, threshold)
        rows.append((preset, "model" if model else "colour", threshold, figures))
        print(preset, threshold, json.dumps(figures), flush=True)
    print("\n| clip | embedding | threshold | tracks grouped | characters | groups | purity | completeness | pair precision / recall | crops kept | near-duplicates dropped |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for preset, embedding, threshold, f in rows:
        shown = threshold if threshold is not None else ("0.6" if embedding == "model" else "0.8") + " (default)"
        print(f"| {preset} | {embedding} | {shown} | {f['grouped_tracks']} | {f['characters']} | {f['groups']} | {f.get('purity', 0):.2f} "
              f"| {f.get('completeness', 0):.2f} | {f.get('pair_precision', 0):.2f} / {f.get('pair_recall', 0):.2f} "
              f"| {f['crops']} | {f['near_duplicates']} |")


if __name__ == "__main__":
    main()
