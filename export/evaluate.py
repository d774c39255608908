"""`evaluate`: a classifier (.keras or .onnx) against a folder of labelled face crops.

    TEST_DIR/<character>/<image>  →  accuracy, per-character precision and recall, a confusion
                                     matrix, and the top-3 scores of every image

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

from export.dataset import test_folder
from streamer.image_files import list_images, read_image
from export.reports import markdown_table, percent, plot_confusion_matrix
from streamer.errors import InputError, ModelError
from streamer.model_contract import ModelContract

TOP_K = 3


@dataclass(frozen=True)
class ImageResult:
    path: Path
    truth: str
    top: tuple[tuple[str, float], ...]  # (label, probability), best first

    @property
    def predicted(self) -> str:
        return self.top[0][0]

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth


@dataclass(frozen=True)
class Evaluation:
    """confusion: (k, k) int64 over `labels`, rows = true character, columns = predicted."""

    model: Path
    test_dir: Path
    labels: tuple[str, ...]
    images: tuple[ImageResult, ...]
    confusion: np.ndarray

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

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
        return {
            "model": str(self.model),
            "test_dir": str(self.test_dir),
            "accuracy": self.accuracy,
            "correct": self.correct,
            "total": len(self.images),
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

    def to_markdown(self, confusion_png: str | None = None) -> str:
        lines = [
            f"# Evaluation of {self.model.name} on {self.test_dir}",
            "",
            f"Accuracy: **{self.correct}/{len(self.images)} = {percent(self.accuracy)}**",
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


def load_predictor(model_path: str | os.PathLike) -> tuple[ModelContract, Predictor]:
    """(contract, predict(list of BGR uint8 crops) → (n, k) probabilities) for .onnx or .keras."""
    path = Path(model_path)
    if not path.exists():
        raise ModelError(f"model {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from streamer.classifier import OnnxClassifier

        classifier = OnnxClassifier(path, intra_op_threads=os.cpu_count() or 1)
        return classifier.contract, classifier.predict
    if suffix == ".keras":
        from export.model_io import keras_predict, load_classifier

        model, contract, _ = load_classifier(path)
        return contract, lambda crops: keras_predict(model, contract, crops)
    raise ModelError(f"model {path.name}: expected a .keras or .onnx file")


def evaluate(
    model_path: str | os.PathLike,
    test_dir: str | os.PathLike,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> Evaluation:
    """Classify every image of TEST_DIR/<character>/ and compare with its folder's name.

    Characters the model does not know are an InputError (they could only ever be wrong);
    characters the model knows but the folder lacks are fine (rows of zeros).
    on_batch: called with the number of images just classified (progress bar).
    """
    folder = test_folder(test_dir)
    samples = labelled_images(folder)
    contract, predict = load_predictor(model_path)
    unknown = sorted({truth for _, truth in samples} - set(contract.labels))
    if unknown:
        raise InputError(
            f"{folder}: character folder(s) {', '.join(unknown)} are not among the model's labels "
            f"({', '.join(contract.labels)})"
        )
    index = {label: i for i, label in enumerate(contract.labels)}
    k = len(contract.labels)
    confusion = np.zeros((k, k), np.int64)
    results: list[ImageResult] = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        probabilities = predict([read_image(path) for path, _ in chunk])
        for (path, truth), scores in zip(chunk, probabilities):
            order = np.argsort(-scores, kind="stable")[:TOP_K]
            top = tuple((contract.labels[i], float(scores[i])) for i in order)
            confusion[index[truth], int(order[0])] += 1
            results.append(ImageResult(path, truth, top))
        if on_batch is not None:
            on_batch(len(chunk))
    return Evaluation(Path(model_path), folder, contract.labels, tuple(results), confusion)


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
    )
    report = out_dir / "report.md"
    report.write_text(evaluation.to_markdown(confusion_png.name), encoding="utf-8")
    figures = out_dir / "evaluation.json"
    figures.write_text(json.dumps(evaluation.to_dict(), indent=2), encoding="utf-8")
    return {"report": report, "confusion": confusion_png, "json": figures}


def summary_lines(evaluation: Evaluation) -> Sequence[str]:
    """A few lines for the terminal."""
    lines = [f"accuracy: {evaluation.correct}/{len(evaluation.images)} = {percent(evaluation.accuracy)}"]
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
