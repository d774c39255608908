"""The sidecar: every labelled face of every frame, plus screen time per character.

Written beside the annotated video (or alone), in one of two formats chosen by the suffix.

JSON Lines (`.jsonl`): one JSON object per line. One "face" record per track per frame, in
frame order, then one "summary" line at the end:

    {"type": "face", "frame": 12, "time": 0.500500, "track": 3, "x1": 410, "y1": 96, "x2": 502, "y2": 188, "name": "nishikino_maki", "confidence": 0.934}
    ...
    {"type": "summary", "version": 1, "frames": 456, "duration": 19.019, "faces": 131,
     "characters": {"nishikino_maki": {"screen_time": 4.963, "first": 0.5005, "last": 9.551, "tracks": 3}, ...},
     "unknown": {"screen_time": 1.001, "first": 12.304, "last": 13.263, "tracks": 1}}

CSV (`.csv`): a header and one row per face record, same fields and order
(frame,time,track,x1,y1,x2,y2,name,confidence); the summary, which does not fit CSV's one
table, goes to `<stem>.summary.json` beside it (the summary object above). Spreadsheets open
the CSV as is; both files are written atomically and appear together.

Fields:
    frame       0-based index of the decoded video frame.
    time        the frame's presentation time in seconds (its pts x time_base, so variable
                frame rate and streams that do not start at 0 are right), 6 decimals.
    track       tracker id (-1 for a face that was not tracked).
    x1..y2      the face box in full-resolution pixels of the video (rounded to int).
    name        the character, or "unknown" when the classifier was not sure enough.
    confidence  the name's probability (the track's mean over its classifications), 3 decimals.

Summary, per character (`characters`, sorted by name) and for "unknown" (`unknown`, null if
never seen):
    screen_time the sum of the durations of the frames showing the character at least once
                (two tracks with the same name in one frame count that frame once). A frame's
                duration is the time to the next frame's timestamp; the last frame's is the
                stream's nominal frame duration (`frame_duration`) or else the previous one.
    first, last the time of the first and of the last frame showing the character.
    tracks      the number of distinct track ids shown with that name (a track whose name
                changed over its life counts for each name).
`frames` (frames written), `duration` (sum of all frame durations) and `faces` (records)
describe the whole video; `damaged` lists the stretches of the input that did not decode and
were skipped (`{"start": s, "end": s, "packets": n}`, empty for an intact input).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable

from streamer.atomic import AtomicPath, check_output_path
from streamer.detections import UNKNOWN, Detections
from streamer.errors import InputError, OutputError, UsageError
from streamer.frames import Frame

FORMAT_VERSION = 1
SUFFIXES = (".jsonl", ".csv")
FIELDS = ("frame", "time", "track", "x1", "y1", "x2", "y2", "name", "confidence")


@dataclass(frozen=True)
class FaceRecord:
    """One labelled face in one frame (a sidecar line / row)."""

    frame: int
    time: float
    track: int
    x1: int
    y1: int
    x2: int
    y2: int
    name: str
    confidence: float


@dataclass(frozen=True)
class CharacterTime:
    """Screen time of one character (or of "unknown"), in seconds."""

    screen_time: float
    first: float
    last: float
    tracks: int


@dataclass(frozen=True)
class SidecarSummary:
    frames: int
    duration: float
    faces: int
    characters: dict[str, CharacterTime] = field(default_factory=dict)
    unknown: CharacterTime | None = None
    damaged: tuple[dict[str, Any], ...] = ()  # {"start": s, "end": s, "packets": n}: skipped, undecodable

    def stats_of(self, name: str) -> CharacterTime | None:
        """A character's times, or the unknown faces' for UNKNOWN; None when never on screen."""
        return self.unknown if name == UNKNOWN else self.characters.get(name)

    def screen_time(self, name: str) -> float:
        stats = self.stats_of(name)
        return stats.screen_time if stats else 0.0

    def names(self) -> list[str]:
        """The characters on screen in name order, then UNKNOWN if any unknown face was."""
        return sorted(self.characters) + ([UNKNOWN] if self.unknown else [])

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "version": FORMAT_VERSION,
            "frames": self.frames,
            "duration": round(self.duration, 6),
            "faces": self.faces,
            "characters": {name: asdict(stats) for name, stats in self.characters.items()},
            "unknown": asdict(self.unknown) if self.unknown else None,
            "damaged": list(self.damaged),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SidecarSummary":
        return cls(
            frames=int(data["frames"]),
            duration=float(data["duration"]),
            faces=int(data["faces"]),
            characters={str(name): CharacterTime(**stats) for name, stats in data["characters"].items()},
            unknown=CharacterTime(**data["unknown"]) if data.get("unknown") else None,
            damaged=tuple(dict(d) for d in data.get("damaged", ())),
        )


def names_on_screen(summaries: Iterable[SidecarSummary]) -> list[str]:
    """Every character on screen in any of the summaries, in name order, then UNKNOWN if any
    summary has unknown faces: the rows (or columns) of a season's screen-time table."""
    summaries = list(summaries)
    names = sorted({name for s in summaries for name in s.characters})
    return names + ([UNKNOWN] if any(s.unknown for s in summaries) else [])


def summary_path(csv_path: str | os.PathLike) -> Path:
    """Where the summary of a CSV sidecar goes: `<stem>.summary.json` beside it."""
    path = Path(csv_path)
    return path.with_name(f"{path.stem}.summary.json")


def check_sidecar_path(path: str | os.PathLike) -> Path:
    """The path if its suffix names a format; UsageError otherwise (call before any work)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"sidecar {path}: unknown format {path.suffix or '(no suffix)'!r}; use .jsonl or .csv")
    return path


def check_sidecar_output(
    path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *, force: bool = False
) -> Path:
    """Validate a sidecar to write (its format, and it and a CSV's summary as outputs, see
    `check_output_path`) before any work starts; returns its path."""
    inputs = list(inputs)
    path = check_output_path(check_sidecar_path(path), inputs, force=force)
    if path.suffix.lower() == ".csv":
        check_output_path(summary_path(path), inputs, force=force)
    return path


class SidecarWriter:
    """Writes the sidecar atomically: nothing appears under `path` until `close()` succeeds.

    path: ends in .jsonl or .csv (see the module docstring for both formats).
    frame_duration: the stream's nominal frame duration in seconds (1 / average frame rate),
        used for the last frame; None uses the previous frame's duration.

    Call `write(frame, detections)` for EVERY frame, with or without faces, in order, so
    frame durations are known. As a context manager: closes (commits) on success, discards
    everything on an exception.

        with SidecarWriter("out.jsonl", frame_duration=1001 / 24000) as sidecar:
            for frame, labelled in ...:
                sidecar.write(frame, labelled)
    """

    def __init__(self, path: str | os.PathLike, *, frame_duration: float | None = None) -> None:
        self.path = check_sidecar_path(path)
        self.format = self.path.suffix.lower()
        self.frame_duration = frame_duration if frame_duration and frame_duration > 0 else None
        self._atomic = AtomicPath(self.path)
        self._summary_atomic: AtomicPath | None = None
        self._file: io.TextIOBase | None = None
        try:
            if self.format == ".csv":
                self._summary_atomic = AtomicPath(summary_path(self.path))
            self._file = open(self._atomic.path, "w", encoding="utf-8", newline="")
            if self.format == ".csv":
                self._csv = csv.writer(self._file, lineterminator="\n")
                self._csv.writerow(FIELDS)
        except OSError as exc:
            self._discard()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        except BaseException:
            self._discard()
            raise
        self._closed = False
        self._frames = 0
        self._faces = 0
        self._duration = 0.0
        self._last_duration: float | None = None
        # The frame before the current one: its duration is known once the next frame arrives.
        self._pending_time: float | None = None
        self._pending_names: set[str] = set()
        self._screen: dict[str, float] = {}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._tracks: dict[str, set[int]] = {}
        # Set by the job before closing: the input's skipped, undecodable stretches.
        self.damaged: tuple[dict, ...] = ()

    def __enter__(self) -> "SidecarWriter":
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def write(self, frame: Frame, detections: Detections) -> None:
        """Record one frame's labelled faces (Detections with tracker_id, class_name, confidence)."""
        if self._closed:
            raise ValueError("sidecar is closed")
        time = float(frame.time)
        self._account_pending(time)
        names: set[str] = set()
        lines = []
        for i in range(len(detections)):
            x1, y1, x2, y2 = (int(round(float(v))) for v in detections.xyxy[i])
            name = str(detections.class_name[i])
            track = int(detections.tracker_id[i])
            record = FaceRecord(frame.index, round(time, 6), track, x1, y1, x2, y2, name, round(float(detections.confidence[i]), 3))
            lines.append(record)
            names.add(name)
            self._first.setdefault(name, time)
            self._last[name] = time
            tracks = self._tracks.setdefault(name, set())
            if track >= 0:
                tracks.add(track)
        try:
            if self.format == ".csv":
                self._csv.writerows([[getattr(r, f) for f in FIELDS] for r in lines])
            else:
                self._file.writelines(json.dumps({"type": "face", **asdict(r)}, ensure_ascii=False) + "\n" for r in lines)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._faces += len(lines)
        self._frames += 1
        self._pending_time = time
        self._pending_names = names

    def _account_pending(self, next_time: float | None) -> None:
        """Give the pending frame its duration (up to `next_time`) and credit its characters."""
        if self._pending_time is None:
            return
        if next_time is not None and next_time > self._pending_time:
            duration = next_time - self._pending_time
            self._last_duration = duration
        elif next_time is None and self.frame_duration:
            duration = self.frame_duration  # the last frame
        else:  # the last frame without a nominal duration, or timestamps that do not increase
            duration = self._last_duration or self.frame_duration or 0.0
        self._duration += duration
        for name in self._pending_names:
            self._screen[name] = self._screen.get(name, 0.0) + duration
        self._pending_time = None

    @property
    def summary(self) -> SidecarSummary:
        """The summary so far (complete once closed)."""

        def stats(name: str) -> CharacterTime:
            return CharacterTime(
                screen_time=round(self._screen.get(name, 0.0), 6),
                first=round(self._first[name], 6),
                last=round(self._last[name], 6),
                tracks=len(self._tracks[name]),
            )

        characters = {name: stats(name) for name in sorted(self._first) if name != UNKNOWN}
        unknown = stats(UNKNOWN) if UNKNOWN in self._first else None
        return SidecarSummary(self._frames, self._duration, self._faces, characters, unknown, self.damaged)

    def close(self) -> Path:
        """Finish: write the summary and move the file(s) into place. Returns the sidecar path."""
        if self._closed:
            return self.path
        self._account_pending(None)
        summary = self.summary.to_json()
        try:
            if self.format == ".jsonl":
                self._file.write(json.dumps(summary, ensure_ascii=False) + "\n")
            self._file.close()
            if self._summary_atomic is not None:
                self._summary_atomic.path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            self._discard()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        except BaseException:
            self._discard()
            raise
        self._closed = True
        # Summary first: a CSV never appears without its summary.
        if self._summary_atomic is not None:
            self._summary_atomic.commit()
        self._atomic.commit()
        return self.path

    def discard(self) -> None:
        """Abandon the output: temporary files are removed, existing files are left as they were."""
        self._discard()

    def _discard(self) -> None:
        self._closed = True
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._atomic.discard()
        if self._summary_atomic is not None:
            self._summary_atomic.discard()


def read_sidecar(path: str | os.PathLike) -> tuple[list[FaceRecord], SidecarSummary | None]:
    """Read a sidecar written by SidecarWriter → (face records in file order, summary).

    The summary is None when it is missing (a JSONL without its summary line, a CSV without its
    .summary.json). InputError with one line for a missing or malformed file.
    """
    path = check_sidecar_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"sidecar {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read sidecar {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if path.suffix.lower() == ".csv":
        return _read_csv(path, text)
    return _read_jsonl(path, text)


def _read_jsonl(path: Path, text: str) -> tuple[list[FaceRecord], SidecarSummary | None]:
    records, summary = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            kind = data.pop("type")
            if kind == "face":
                records.append(_record(data))
            elif kind == "summary":
                _check_version(path, data)
                summary = SidecarSummary.from_json(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            _check_version_at_end(path, text)  # another version's records: say that, not "malformed"
            raise InputError(f"sidecar {path}, line {number}: not a sidecar record ({exc})") from None
    return records, summary


def _check_version_at_end(path: Path, text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        return
    if isinstance(last, dict) and last.get("type") == "summary":
        _check_version(path, last)


def _read_csv(path: Path, text: str) -> tuple[list[FaceRecord], SidecarSummary | None]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != FIELDS:
        raise InputError(f"sidecar {path}: header is not {','.join(FIELDS)}")
    records = []
    for number, row in enumerate(reader, start=2):
        try:
            records.append(_record(row))
        except (ValueError, TypeError) as exc:
            raise InputError(f"sidecar {path}, line {number}: not a sidecar row ({exc})") from None
    summary = None
    side = summary_path(path)
    if side.is_file():
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            _check_version(side, data)
            summary = SidecarSummary.from_json(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"sidecar summary {side}: unreadable ({exc})") from None
    return records, summary


def _check_version(path: Path, summary: dict[str, Any]) -> None:
    version = summary.get("version")
    if version != FORMAT_VERSION:
        raise InputError(f"sidecar {path} is format version {version}; this streamer reads version {FORMAT_VERSION}")


def _record(data: dict[str, Any]) -> FaceRecord:
    time, confidence = float(data["time"]), float(data["confidence"])
    if not (math.isfinite(time) and math.isfinite(confidence)):
        raise ValueError("time and confidence must be finite")
    return FaceRecord(
        frame=int(data["frame"]),
        time=time,
        track=int(data["track"]),
        x1=int(data["x1"]),
        y1=int(data["y1"]),
        x2=int(data["x2"]),
        y2=int(data["y2"]),
        name=str(data["name"]),
        confidence=confidence,
    )
