"""`evaluate`: a classifier (.keras or .onnx) against a folder of labelled face crops.

    TEST_DIR/<character>/<image>  →  accuracy, per-character precision and recall, a confusion
                                     matrix, and the top-3 scores of every image
    --foreign DIR                 →  the share of faces of other characters called `unknown`

A face is named as the runtime names it: the best-scoring character, or `unknown` when that
score is below the threshold (the model's calibrated one unless given); a known face called
`unknown` counts as wrong. Galleries (`streamer enroll`) add characters to an .onnx model.

An `.onnx` model runs through the runtime's own `streamer.classifier.OnnxClassifier` (resize,
colour order and scaling from the model's metadata), so the figures are the runtime's. A
`.keras` model gets the same input, prepared by the same `ModelContract`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from streamer.training.dataset import test_folder
from streamer.image_files import list_images, read_image
from streamer.training.reports import markdown_table, percent, plot_confusion_matrix, plot_open_set
from streamer.detections import UNKNOWN
from streamer.errors import InputError, ModelError, UsageError
from streamer.model_contract import ModelContract

TOP_K = 3
FOREIGN = "<foreign>"  # the truth of a --foreign image: it must come out unknown


@dataclass(frozen=True)
class ImageResult:
    path: Path
    truth: str  # the character, or FOREIGN for an image of --foreign
    top: tuple[tuple[str, float], ...]  # (label, score), best first
    threshold: float

    @property
    def predicted(self) -> str:
        label, score = self.top[0]
        return label if score >= self.threshold else UNKNOWN

    @property
    def correct(self) -> bool:
        return self.predicted == (UNKNOWN if self.truth == FOREIGN else self.truth)


@dataclass(frozen=True)
class Evaluation:
    """confusion: (k, k + 1) int64, rows = true character (`labels`), columns = predicted
    (`labels`, then `unknown`). `foreign`: the results on --foreign images (empty without)."""

    model: Path
    test_dir: Path
    labels: tuple[str, ...]
    images: tuple[ImageResult, ...]
    confusion: np.ndarray
    threshold: float = 0.0
    threshold_source: str = ""
    foreign_dir: Path | None = None
    foreign: tuple[ImageResult, ...] = ()
    foreign_without_face: tuple[Path, ...] = ()  # foreign illustrations in which no face was found
    # (known scores (n, k), true label indices, foreign scores (m, k)): for the threshold curve
    scores: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion[:, : len(self.labels)]))

    @property
    def unknown(self) -> int:
        return int(self.confusion[:, len(self.labels)].sum())

    @property
    def foreign_rejected(self) -> int:
        return sum(1 for r in self.foreign if r.correct)

    @property
    def rejection_rate(self) -> float | None:
        return self.foreign_rejected / len(self.foreign) if self.foreign else None

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, len(self.images))

    def precision(self, index: int) -> float | None:
        predicted = int(self.confusion[:, index].sum())
        return None if predicted == 0 else float(self.confusion[index, index]) / predicted

    def recall(self, index: int) -> float | None:
        support = int(self.confusion[index].sum())
        return None if support == 0 else float(self.confusion[index, index]) / support

    def to_dict(self) -> dict:
        foreign = {}
        if self.foreign_dir is not None:
            foreign = {
                "foreign": {
                    "dir": str(self.foreign_dir),
                    "total": len(self.foreign),
                    "rejected": self.foreign_rejected,
                    "rejection_rate": self.rejection_rate,
                    "without_face": len(self.foreign_without_face),
                    "named": [
                        {"path": str(r.path), "predicted": r.predicted, "score": r.top[0][1]}
                        for r in self.foreign if not r.correct
                    ],
                }
            }
        return {
            "model": str(self.model),
            "test_dir": str(self.test_dir),
            "accuracy": self.accuracy,
            "correct": self.correct,
            "total": len(self.images),
            "unknown": self.unknown,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            **foreign,
            "labels": list(self.labels),
            "per_character": {
                label: {
                    "precision": self.precision(i),
                    "recall": self.recall(i),
                    "support": int(self.confusion[i].sum()),
                }
                for i, label in enumerate(self.labels)
            },
            "confusion": self.confusion.tolist(),
            "confusion_columns": [*self.labels, UNKNOWN],
            "images": [
                {
                    "path": str(r.path),
                    "truth": r.truth,
                    "predicted": r.predicted,
                    "ok": r.correct,
                    "top": [{"label": label, "score": score} for label, score in r.top],
                }
                for r in self.images
            ],
        }

    def to_markdown(self, confusion_png: str | None = None, threshold_png: str | None = None) -> str:
        lines = [
            f"# Evaluation of {self.model.name} on {self.test_dir}",
            "",
            f"Accuracy: **{self.correct}/{len(self.images)} = {percent(self.accuracy)}** "
            f"({self.unknown} called unknown; threshold {self.threshold:.3f}, {self.threshold_source})",
            "",
            "## Per character",
            "",
            markdown_table(
                ["character", "images", "precision", "recall"],
                [
                    (label, int(self.confusion[i].sum()), percent(self.precision(i)), percent(self.recall(i)))
                    for i, label in enumerate(self.labels)
                ],
                "lrrr",
            ),
        ]
        if confusion_png:
            lines += ["", f"![confusion matrix]({confusion_png})"]
        if self.foreign_dir is not None:
            lines += [
                "", "## Foreign faces", "",
                f"{self.foreign_rejected}/{len(self.foreign)} = {percent(self.rejection_rate)} of the faces in "
                f"{self.foreign_dir} called unknown.",
            ]
            named = [r for r in self.foreign if not r.correct]
            if named:
                lines += ["", markdown_table(["image", "named", "score"], [
                    (f"{r.path.parent.name}/{r.path.name}", r.predicted, f"{r.top[0][1]:.3f}") for r in named
                ])]
        if threshold_png:
            lines += ["", f"![known accuracy and foreign rejection against the threshold]({threshold_png})"]
        lines += ["", "## Per image", "", self.image_table()]
        return "\n".join(lines) + "\n"

    def image_table(self) -> str:
        """The seeds' result table: each image's top-3 scores and OK/NG."""
        headers = ["image", "character"] + [f"#{n + 1}" for n in range(min(TOP_K, len(self.labels)))] + ["result"]
        rows = []
        for r in self.images:
            scores = [f"{label} {score:.3f}" for label, score in r.top]
            rows.append([f"{r.path.parent.name}/{r.path.name}", r.truth, *scores, "OK" if r.correct else "**NG**"])
        return markdown_table(headers, rows)


Predictor = Callable[[list[np.ndarray]], np.ndarray]


def load_predictor(model_path: str | os.PathLike, galleries: Sequence[str | os.PathLike] = ()) -> tuple[ModelContract, Predictor]:
    """(contract, predict(list of BGR uint8 crops) → (n, k) scores) for .onnx or .keras."""
    path = Path(model_path)
    if not path.exists():
        raise ModelError(f"model {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from streamer.classifier import OnnxClassifier
        from streamer.gallery import read_gallery

        loaded = [read_gallery(g) for g in galleries]
        classifier = OnnxClassifier(path, intra_op_threads=os.cpu_count() or 1, galleries=loaded)
        return classifier.contract, classifier.predict
    if suffix == ".keras":
        if galleries:
            raise UsageError("galleries belong to the exported .onnx model they were enrolled with; evaluate that file")
        from streamer.training.model_io import keras_predict, load_classifier

        model, contract, _ = load_classifier(path)
        return contract, lambda crops: keras_predict(model, contract, crops)
    raise ModelError(f"model {path.name}: expected a .keras or .onnx file")


def evaluate(
    model_path: str | os.PathLike,
    test_dir: str | os.PathLike,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
    foreign_dir: str | os.PathLike | None = None,
    galleries: Sequence[str | os.PathLike] = (),
    threshold: float | None = None,
) -> Evaluation:
    """Classify every image of TEST_DIR/<character>/ (and of --foreign) and compare with the truth.

    Characters the model does not know are an InputError (they could only ever be wrong);
    characters the model knows but the folder lacks are fine (rows of zeros); a --foreign
    sub-folder named like a known character is an InputError (those faces must be named).
    on_batch: called with the number of images just classified (progress bar).
    """
    folder = test_folder(test_dir)
    samples = labelled_images(folder)
    contract, predict = load_predictor(model_path, galleries)
    unknown = sorted({truth for _, truth in samples} - set(contract.labels))
    if unknown:
        raise InputError(
            f"{folder}: character folder(s) {', '.join(unknown)} are not among the model's labels "
            f"({', '.join(contract.labels)})"
        )
    foreign_samples = foreign_images(Path(foreign_dir), contract.labels) if foreign_dir is not None else []
    threshold, source = resolve_threshold(contract, threshold)
    index = {label: i for i, label in enumerate(contract.labels)}
    k = len(contract.labels)
    confusion = np.zeros((k, k + 1), np.int64)
    results: list[ImageResult] = []
    foreign: list[ImageResult] = []
    all_scores: list[np.ndarray] = []
    # Foreign pictures are cut as `enroll` cuts them: crops as they are, illustrations' largest face.
    from streamer.picture_faces import FaceCutter

    foreign_crops, foreign_paths, no_face = FaceCutter(contract.input_size, contract.crop_margin).cut(
        [path for path, _ in foreign_samples]
    )
    jobs = [(path, truth, None) for path, truth in samples] + [(path, FOREIGN, crop) for path, crop in zip(foreign_paths, foreign_crops)]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        scores_chunk = predict([read_image(path) if crop is None else crop for path, _, crop in chunk])
        all_scores.append(scores_chunk)
        for (path, truth, _), scores in zip(chunk, scores_chunk):
            order = np.argsort(-scores, kind="stable")[:TOP_K]
            result = ImageResult(path, truth, tuple((contract.labels[i], float(scores[i])) for i in order), threshold)
            if truth == FOREIGN:
                foreign.append(result)
            else:
                confusion[index[truth], k if result.predicted == UNKNOWN else int(order[0])] += 1
                results.append(result)
        if on_batch is not None:
            on_batch(len(chunk))
    if on_batch is not None and no_face:
        on_batch(len(no_face))
    stacked = np.concatenate(all_scores) if all_scores else np.zeros((0, k), np.float32)
    truth_index = np.array([index[truth] for _, truth in samples], np.int64)
    return Evaluation(
        Path(model_path), folder, contract.labels, tuple(results), confusion,
        threshold=threshold, threshold_source=source,
        foreign_dir=Path(foreign_dir) if foreign_dir is not None else None, foreign=tuple(foreign),
        foreign_without_face=tuple(no_face),
        scores=(stacked[: len(samples)], truth_index, stacked[len(samples) :]),
    )


def resolve_threshold(contract: ModelContract, threshold: float | None) -> tuple[float, str]:
    """(threshold, where it came from): the given one, the model's calibrated one, or the
    runtime's default for a closed-set model, exactly as `annotate` decides."""
    from streamer.labeler import DEFAULT_THRESHOLD

    if threshold is not None:
        return float(threshold), "given with --threshold"
    if contract.threshold is not None:
        return float(contract.threshold), "the model's calibrated threshold"
    return DEFAULT_THRESHOLD, "the runtime's default for a closed-set model"


def foreign_images(folder: Path, labels: Sequence[str]) -> list[tuple[Path, str]]:
    """(image path, FOREIGN) for every image under `folder`, in any sub-folders; InputError for
    a missing or empty folder, or a sub-folder named like a character the model knows."""
    from streamer.image_files import list_images_recursive

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder (the foreign faces)")
    for dirpath, dirnames, _ in os.walk(folder, followlinks=True):
        clash = sorted(set(dirnames) & set(labels))
        if clash:
            raise InputError(
                f"foreign faces {folder}: sub-folder {Path(dirpath) / clash[0]} is named like a character the model "
                f"knows; foreign faces must be of characters it must not name"
            )
    paths = list_images_recursive(folder)
    if not paths:
        raise InputError(f"foreign faces {folder}: the folder holds no images")
    return [(path, FOREIGN) for path in paths]


def threshold_curve(evaluation: Evaluation, points: int = 201) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(thresholds, known named right, foreign rejected or None) over the scores' range."""
    from streamer.open_set import named_right, rejected

    known, truth, foreign = evaluation.scores
    values = np.concatenate([known.max(axis=1) if len(known) else [], foreign.max(axis=1) if len(foreign) else []])
    low = min(0.0, float(values.min())) if len(values) else 0.0
    thresholds = np.linspace(low, 1.0, points)
    named = np.array([named_right(known, truth, t).mean() if len(known) else 0.0 for t in thresholds])
    rejection = np.array([rejected(foreign, t).mean() for t in thresholds]) if len(foreign) else None
    return thresholds, named, rejection


def labelled_images(folder: Path) -> list[tuple[Path, str]]:
    """(image path, character) for every image in folder/<character>/; InputError if none."""
    characters = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not characters:
        raise InputError(f"{folder} has no character folders; expected {folder}/<character>/<images>")
    samples = [(path, c.name) for c in characters for path in list_images(c)[0]]
    if not samples:
        raise InputError(f"{folder}: no images in its character folders")
    return samples


def write_reports(evaluation: Evaluation, out_dir: Path) -> dict[str, Path]:
    """report.md, confusion.png and evaluation.json into `out_dir` (an existing folder)."""
    import json

    confusion_png = plot_confusion_matrix(
        evaluation.confusion,
        evaluation.labels,
        out_dir / "confusion.png",
        title=f"{evaluation.model.name}: {evaluation.correct}/{len(evaluation.images)}",
        columns=[*evaluation.labels, UNKNOWN],
    )
    thresholds, named, rejection = threshold_curve(evaluation)
    where = lambda folder: f"{folder.parent.name}/{folder.name}"  # noqa: E731
    title = f"{evaluation.model.name} on {where(evaluation.test_dir)}" + (
        f", foreign: {where(evaluation.foreign_dir)}" if evaluation.foreign_dir is not None else ""
    )
    threshold_png = plot_open_set(thresholds, named, rejection, evaluation.threshold, out_dir / "threshold.png", title)
    report = out_dir / "report.md"
    report.write_text(evaluation.to_markdown(confusion_png.name, threshold_png.name), encoding="utf-8")
    figures = out_dir / "evaluation.json"
    figures.write_text(json.dumps(evaluation.to_dict(), indent=2), encoding="utf-8")
    return {"report": report, "confusion": confusion_png, "threshold": threshold_png, "json": figures}


def summary_lines(evaluation: Evaluation) -> Sequence[str]:
    """A few lines for the terminal."""
    lines = [
        f"accuracy: {evaluation.correct}/{len(evaluation.images)} = {percent(evaluation.accuracy)} "
        f"({evaluation.unknown} called unknown at threshold {evaluation.threshold:.3f})"
    ]
    if evaluation.foreign_dir is not None:
        lines.append(
            f"foreign: {evaluation.foreign_rejected}/{len(evaluation.foreign)} = {percent(evaluation.rejection_rate)} "
            f"called unknown"
        )
    width = max(len(label) for label in evaluation.labels)
    for i, label in enumerate(evaluation.labels):
        lines.append(
            f"  {label:<{width}}  precision {percent(evaluation.precision(i)):>8}  "
            f"recall {percent(evaluation.recall(i)):>8}  ({int(evaluation.confusion[i].sum())} images)"
        )
    wrong = [r for r in evaluation.images if not r.correct]
    for r in wrong:
        lines.append(f"  NG {r.path.parent.name}/{r.path.name}: {r.predicted} {r.top[0][1]:.3f}")
    return lines
