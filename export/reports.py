"""Figures and tables for people: training curves and confusion matrices as PNG, results as
Markdown tables. Pure rendering: the numbers come from `streamer.training.train` and `streamer.training.evaluate`.
PNG files are written through `streamer.atomic.AtomicPath`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from streamer.atomic import AtomicPath


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history: Sequence, path: str | os.PathLike, title: str = "") -> Path:
    """Loss and accuracy per epoch (training and validation), phase 2 shaded.

    history: records with fields phase, epoch, loss, accuracy, val_loss, val_accuracy.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [r.epoch for r in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, key, label in ((loss_axes, "loss", "loss"), (accuracy_axes, "accuracy", "accuracy")):
        axes.plot(epochs, [getattr(r, key) for r in history], label=f"training {label}")
        val = [getattr(r, f"val_{key}") for r in history]
        if any(v is not None for v in val):
            axes.plot(epochs, [np.nan if v is None else v for v in val], label=f"validation {label}")
        fine_tune = [r.epoch for r in history if r.phase == 2]
        if fine_tune:
            axes.axvspan(fine_tune[0] - 0.5, fine_tune[-1] + 0.5, color="0.9", label="fine-tuning")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    accuracy_axes.set_ylim(0, 1.02)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], path: str | os.PathLike, title: str = "",
    columns: Sequence[str] | None = None,
) -> Path:
    """matrix: (k, c) counts, rows = true character (`labels`), columns = predicted (`columns`,
    default the same labels; e.g. the labels and `unknown`)."""
    plt = _pyplot()
    columns = list(labels) if columns is None else list(columns)
    k, c = len(labels), len(columns)
    side = max(4.0, 0.6 * max(k, c) + 2.5)
    figure, axes = plt.subplots(figsize=(side + 1.0, side))
    image = axes.imshow(matrix, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(c), columns, rotation=45, ha="right")
    axes.set_yticks(range(k), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    threshold = matrix.max() / 2.0 if matrix.size and matrix.max() > 0 else 0.5
    for row in range(k):
        for column in range(c):
            value = int(matrix[row, column])
            axes.text(column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_open_set(
    thresholds: np.ndarray, known_named: np.ndarray, foreign_rejected: np.ndarray | None,
    threshold: float, path: str | os.PathLike, title: str = "",
) -> Path:
    """Known faces named right and foreign faces rejected, against the `unknown` threshold;
    the model's operating threshold marked."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(thresholds, known_named, label="known faces named right")
    if foreign_rejected is not None:
        axes.plot(thresholds, foreign_rejected, label="foreign faces rejected (unknown)")
    axes.axvline(threshold, color="0.4", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set_xlabel("threshold (best score below it: unknown)")
    axes.set_ylabel("share")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize="small")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _save(figure, path)


def _save(figure, path: str | os.PathLike) -> Path:
    plt = _pyplot()
    try:
        with AtomicPath(path) as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    finally:
        plt.close(figure)
    return Path(path)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A GitHub Markdown table; align: one character per column, "l" or "r" (default left)."""
    align = align.ljust(len(headers), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100.0 * value:.1f} %"
