"""How an enrolled character's prototypes should be made: its mean, every face, or the mean plus
one per look (`streamer.open_set.enrolled_prototypes`, the rule galleries use). Prints a table.

    python benchmarks/gallery_prototypes.py --model keima3=benchmarks/out/open_set/keima3/model.onnx \
        --model onepiece6=benchmarks/out/real_frames/learned/onepiece6.onnx

Offline, with the runtime's classifier (no video, no detector: about a minute):
- keima3: newgame8's seven characters other than takimoto_hifumi enrolled from k = 5 of their
  images (three seeded draws), the rest of their images named, animeface_patches/positive_test
  as strangers (as `benchmarks/open_set.py` enrolls them);
- onepiece6: the labelled faces of the six in the real episode frames not held out enrolled
  (cut at the hand-drawn boxes with the model's crop rule), the held-out frames' labelled faces
  named (found-face shares: the detector is left out).
Both at the model's threshold, with the model's own prototypes beside the enrolled ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_accuracy import REPO, SHARED as SHARED_ROOT  # noqa: E402

sys.path.insert(0, str(REPO))
from streamer.classifier import OnnxClassifier  # noqa: E402
from streamer.face_boxes import read_pictures  # noqa: E402
from streamer.model_contract import crop_face, resize_crop  # noqa: E402
from streamer.open_set import enrolled_prototypes, normalized, prototype_scores  # noqa: E402

SHARED = SHARED_ROOT / "datasets"
RULES = {
    "mean": lambda faces: normalized(faces.mean(axis=0, keepdims=True)),
    "every face": lambda faces: normalized(faces),
    "mean + every face": lambda faces: np.concatenate([normalized(faces.mean(axis=0, keepdims=True)), normalized(faces)]),
    "mean + one per look (galleries)": enrolled_prototypes,
}


def embed(classifier: OnnxClassifier, crops: list[np.ndarray]) -> np.ndarray:
    return normalized(np.concatenate([classifier.embed(crops[i:i + 64]) for i in range(0, len(crops), 64)]))


def scores_with(classifier: OnnxClassifier, enrolled: dict[int, np.ndarray], rule, queries: np.ndarray) -> np.ndarray:
    """(n, labels + enrolled) scores: the model's prototypes, plus each enrolled label's by `rule`."""
    owners, vectors = classifier.contract._prototype_arrays
    vectors, owners = [vectors], [owners]
    for label, faces in enrolled.items():
        made = rule(faces)
        vectors.append(made), owners.append(np.full(len(made), label))
    return prototype_scores(queries, np.concatenate(vectors), np.concatenate(owners), 1 + max(enrolled))


def files_crops(classifier: OnnxClassifier, files: list[Path]) -> list[np.ndarray]:
    return [resize_crop(cv2.imread(str(f)), classifier.input_size) for f in files]


def kshot(classifier: OnnxClassifier, k: int = 5, trials: int = 3) -> dict[str, tuple[float, float]]:
    folders = sorted(p for p in (SHARED / "newgame8" / "train").iterdir() if p.name not in classifier.labels)
    base = len(classifier.labels)
    faces = {
        base + i: embed(classifier, files_crops(classifier, sorted(folder.glob("*")) + sorted((SHARED / "newgame8" / "test" / folder.name).glob("*"))))
        for i, folder in enumerate(folders)
    }
    strangers = embed(classifier, files_crops(classifier, sorted((SHARED / "animeface_patches" / "positive_test").glob("*"))))
    threshold = classifier.contract.threshold
    results = {}
    for name, rule in RULES.items():
        named, rejected = [], []
        for trial in range(trials):
            rng = np.random.default_rng(trial)
            enrolled, queries, truth = {}, [], []
            for label, vectors in faces.items():
                order = rng.permutation(len(vectors))
                enrolled[label] = vectors[order[:k]]
                queries.append(vectors[order[k:]]), truth.extend([label] * (len(order) - k))
            scores = scores_with(classifier, enrolled, rule, np.concatenate(queries))
            named.append(((scores.argmax(1) == np.array(truth)) & (scores.max(1) >= threshold)).mean())
            rejected.append((scores_with(classifier, enrolled, rule, strangers).max(1) < threshold).mean())
        results[name] = (float(np.mean(named)), float(np.mean(rejected)))
    return results


def labelled_faces(classifier: OnnxClassifier, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    crops, labels = [], []
    for picture in read_pictures(SHARED / "face_boxes" / "episodes", (split,)):
        image = cv2.imread(str(picture.path))
        for face in picture.faces:
            crop = None if face.ignore else crop_face(image, np.asarray(face.xyxy), classifier.input_size, classifier.crop_margin)
            if crop is not None:
                crops.append(crop), labels.append(classifier.labels.index(face.name) if face.name in classifier.labels else -1)
    return crops, np.array(labels)


def episodes(classifier: OnnxClassifier) -> dict[str, tuple[float, float]]:
    enroll_crops, enroll_labels = labelled_faces(classifier, "train")
    enroll_vectors = embed(classifier, enroll_crops)
    enrolled = {label: enroll_vectors[enroll_labels == label] for label in set(enroll_labels.tolist()) - {-1}}
    crops, truth = labelled_faces(classifier, "test")
    queries, known, threshold = embed(classifier, crops), truth >= 0, classifier.contract.threshold
    results = {}
    for name, rule in RULES.items():
        scores = scores_with(classifier, enrolled, rule, queries)
        named = scores.max(1) >= threshold
        results[name] = (float((named & (scores.argmax(1) == truth))[known].mean()),
                         float((named & (scores.argmax(1) != truth))[known].mean()))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="keima3|onepiece6=MODEL.onnx")
    args = parser.parse_args(argv)
    for spec in args.model:
        kind, _, path = spec.partition("=")
        classifier = OnnxClassifier(path)
        if kind == "keima3":
            print(f"\n{path}: newgame8's characters enrolled 5-shot\n\n| prototypes | named | strangers rejected |\n|---|---:|---:|")
            for name, (named, rejected) in kshot(classifier).items():
                print(f"| {name} | {named:.3f} | {rejected:.3f} |")
        elif kind == "onepiece6":
            print(f"\n{path}: the other frames' labelled faces enrolled, held-out faces named\n\n| prototypes | named right | named wrong |\n|---|---:|---:|")
            for name, (right, wrong) in episodes(classifier).items():
                print(f"| {name} | {right:.3f} | {wrong:.3f} |")
        else:
            parser.error(f"--model {spec}: expected keima3=PATH or onepiece6=PATH")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
