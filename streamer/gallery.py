"""Galleries: characters enrolled into an open-set model without retraining.

    streamer enroll MODEL.onnx DIR -o GALLERY.json     (streamer.enroll)
    streamer annotate EPISODE.mkv -m MODEL.onnx --gallery GALLERY.json

A gallery is a JSON file holding, per character, the embeddings of the faces it was enrolled
from (`streamer.open_set`); the character's prototype is their normalised mean (plus one per
look for a character enrolled from ten faces or more: `streamer.open_set.enrolled_prototypes`).
Embeddings only mean something to the model that made them, so the gallery names that model (file name
and sha256) and is refused by any other:

    {"format": "streamer-gallery", "version": 1,
     "model": {"name": "keima3.onnx", "sha256": "...", "embedding_size": 128},
     "characters": {"suzukaze_aoba": {"images": ["aoba/1.png", ...], "embeddings": [[...], ...]}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.errors import InputError, ModelError

GALLERY_FORMAT = "streamer-gallery"
GALLERY_VERSION = 1


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    sha256: str
    embedding_size: int


@dataclass(frozen=True)
class EnrolledCharacter:
    name: str
    images: tuple[str, ...]  # where each embedding came from, for the record
    embeddings: np.ndarray  # (n, d) unit vectors


@dataclass(frozen=True)
class Gallery:
    model: ModelIdentity
    characters: tuple[EnrolledCharacter, ...]
    source: str = "gallery"  # the file it was read from, for messages

    def prototypes(self) -> list[tuple[str, np.ndarray]]:
        """(name, unit vector) per prototype: each character's mean, and for characters enrolled
        from many faces one more per look (`streamer.open_set.enrolled_prototypes`)."""
        from streamer.open_set import enrolled_prototypes

        return [
            (character.name, vector)
            for character in self.characters
            for vector in enrolled_prototypes(character.embeddings)
        ]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": GALLERY_FORMAT,
                "version": GALLERY_VERSION,
                "model": {"name": self.model.name, "sha256": self.model.sha256, "embedding_size": self.model.embedding_size},
                "characters": {
                    c.name: {"images": list(c.images), "embeddings": np.round(c.embeddings, 6).tolist()}
                    for c in self.characters
                },
            },
            indent=1,
        )


def model_identity(path: str | os.PathLike, embedding_size: int | None = None) -> ModelIdentity:
    from streamer.assets import sha256_of

    path = Path(path)
    return ModelIdentity(path.name, sha256_of(path), int(embedding_size or 0))


def check_gallery_fits(gallery: Gallery, identity: ModelIdentity, model_name: str) -> None:
    """ModelError unless `gallery` was enrolled with the model whose identity is given."""
    if gallery.model.sha256 != identity.sha256:
        raise ModelError(
            f"{gallery.source} was enrolled with another model ({gallery.model.name}, sha256 "
            f"{gallery.model.sha256[:12]}...), not {model_name}; enroll its characters again with this model"
        )


def read_gallery(path: str | os.PathLike) -> Gallery:
    """The gallery at `path`; InputError with one line for a missing, truncated, foreign or empty file."""
    path = Path(path)
    source = f"gallery {path}"
    if not path.is_file():
        raise InputError(f"{source} not found" if not path.exists() else f"{source} is not a file")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{source} is not a gallery (not a text file)") from None
    except ValueError:
        raise InputError(f"{source} is not a complete gallery file (truncated or not JSON)") from None
    if not isinstance(payload, dict) or payload.get("format") != GALLERY_FORMAT:
        raise InputError(f"{source} is not a gallery written by `streamer enroll`")
    if payload.get("version") != GALLERY_VERSION:
        raise InputError(f"{source} has gallery version {payload.get('version')!r}; this streamer reads version {GALLERY_VERSION}")
    try:
        model = payload["model"]
        identity = ModelIdentity(str(model["name"]), str(model["sha256"]), int(model["embedding_size"]))
        characters = []
        for name, entry in payload["characters"].items():
            embeddings = np.asarray(entry["embeddings"], np.float32)
            if embeddings.ndim != 2 or len(embeddings) == 0 or embeddings.shape[1] != identity.embedding_size:
                raise ValueError(f"character {name} has no embeddings of size {identity.embedding_size}")
            if not np.isfinite(embeddings).all():
                raise ValueError(f"character {name} has non-finite embeddings")
            characters.append(EnrolledCharacter(str(name), tuple(str(i) for i in entry.get("images", ())), embeddings))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{source} is malformed ({exc})") from None
    if not characters:
        raise InputError(f"{source} holds no characters")
    return Gallery(identity, tuple(characters), source=source)
