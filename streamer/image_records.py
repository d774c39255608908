"""The sidecar of still images: one record per face, with the image's path, and a summary.

JSON Lines (`.jsonl`):

    {"type": "face", "file": "frames/op_010.jpg", "x1": 302, "y1": 40, "x2": 400, "y2": 258,
     "name": "nami", "confidence": 0.912}
    {"type": "summary", "version": 1, "kind": "images", "images": 12, "faces": 17,
     "failed": [{"file": "frames/notes.txt", "error": "not an image"}],
     "characters": {"nami": {"images": 5, "faces": 5}}, "unknown": {"images": 2, "faces": 3}}

CSV (`.csv`): columns file,x1,y1,x2,y2,name,confidence; the summary goes to
`<stem>.summary.json` beside it. Images without a face have no record (they are counted in
`images`). Written atomically, like every output.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from streamer.atomic import AtomicPath
from streamer.detections import UNKNOWN, Detections
from streamer.errors import InputError, OutputError
from streamer.sidecar import summary_path

FIELDS = ("file", "x1", "y1", "x2", "y2", "name", "confidence")


@dataclass(frozen=True)
class ImageFaceRecord:
    file: str
    x1: int
    y1: int
    x2: int
    y2: int
    name: str
    confidence: float


class ImageRecordWriter:
    """Collects records while the images are processed; `close(failed)` writes them at once."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        self.records: list[ImageFaceRecord] = []
        self.images = 0

    def write(self, file: str, detections: Detections) -> None:
        self.images += 1
        for i in range(len(detections)):
            x1, y1, x2, y2 = (int(round(float(v))) for v in detections.xyxy[i])
            self.records.append(
                ImageFaceRecord(file, x1, y1, x2, y2, str(detections.class_name[i]), round(float(detections.confidence[i]), 3))
            )

    def summary(self, failed: list[tuple[str, str]]) -> dict:
        per_name: dict[str, dict[str, set | int]] = {}
        for record in self.records:
            entry = per_name.setdefault(record.name, {"images": set(), "faces": 0})
            entry["images"].add(record.file)
            entry["faces"] += 1
        stats = {name: {"images": len(v["images"]), "faces": v["faces"]} for name, v in sorted(per_name.items())}
        return {
            "type": "summary",
            "version": 1,
            "kind": "images",
            "images": self.images,
            "faces": len(self.records),
            "failed": [{"file": f, "error": e} for f, e in failed],
            "characters": {k: v for k, v in stats.items() if k != UNKNOWN},
            "unknown": stats.get(UNKNOWN),
        }

    def close(self, failed: list[tuple[str, str]]) -> Path:
        summary = self.summary(failed)
        try:
            if self.format == ".csv":
                buffer = io.StringIO()
                table = csv.writer(buffer, lineterminator="\n")
                table.writerow(FIELDS)
                table.writerows([[getattr(r, f) for f in FIELDS] for r in self.records])
                with AtomicPath(summary_path(self.path)) as temporary:
                    temporary.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
                text = buffer.getvalue()
            else:
                lines = [json.dumps({"type": "face", **asdict(r)}, ensure_ascii=False) for r in self.records]
                text = "\n".join(lines + [json.dumps(summary, ensure_ascii=False)]) + "\n"
            with AtomicPath(self.path) as temporary:
                temporary.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        return self.path


def read_image_records(path: str | os.PathLike) -> tuple[list[ImageFaceRecord], dict | None]:
    """(records, summary) of an images sidecar, .jsonl or .csv; InputError if it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read sidecar {path}: {exc.strerror or exc}") from None
    records: list[ImageFaceRecord] = []
    summary = None
    try:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(io.StringIO(text))
            if tuple(reader.fieldnames or ()) != FIELDS:
                raise InputError(f"sidecar {path}: header is not {','.join(FIELDS)} (not an images sidecar)")
            records = [_record(row) for row in reader]
            side = summary_path(path)
            summary = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else None
        else:
            for line in text.splitlines():
                if not line.strip():
                    continue
                data = json.loads(line)
                if data.get("type") == "face":
                    if "file" not in data:
                        raise InputError(f"sidecar {path}: a video sidecar (records have no \"file\"), not one of images")
                    records.append(_record(data))
                elif data.get("type") == "summary":
                    summary = data
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"sidecar {path}: not an images sidecar ({exc})") from None
    return records, summary


def _record(data: dict) -> ImageFaceRecord:
    return ImageFaceRecord(
        file=str(data["file"]),
        x1=int(data["x1"]), y1=int(data["y1"]), x2=int(data["x2"]), y2=int(data["y2"]),
        name=str(data["name"]), confidence=float(data["confidence"]),
    )
