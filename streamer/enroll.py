"""`enroll`: add characters to an open-set model without retraining, as a gallery.

    DIR/<character>/<images>  →  GALLERY.json   (streamer.gallery)

Each image is a ready-made face crop, used as it is, or an illustration, whose largest face is
cut as `prepare` cuts training crops (`streamer.picture_faces`). The model embeds every face;
the gallery keeps the embeddings, and a character's prototype is their mean.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from streamer.errors import InputError, ModelError
from streamer.gallery import EnrolledCharacter, Gallery, model_identity
from streamer import image_files
from streamer.image_files import list_images
from streamer.picture_faces import FaceCutter

@dataclass(frozen=True)
class EnrollResult:
    gallery: Gallery
    faces: dict[str, int]  # character → faces enrolled
    without_face: dict[str, tuple[Path, ...]]  # character → illustrations where no face was found
    also_trained: tuple[str, ...]  # enrolled names the model was trained on (one more prototype each)
    seconds: float


def enroll(
    model_path: str | os.PathLike,
    folder: str | os.PathLike,
    detector: str | os.PathLike | None = None,
    on_image: Callable[[int], None] | None = None,
) -> EnrollResult:
    """Embed the faces of DIR/<character>/ with the model; InputError/ModelError with one line."""
    from streamer.classifier import OnnxClassifier

    started = time.monotonic()
    folder = Path(folder)
    folders = image_files.character_folders(folder)
    classifier = OnnxClassifier(model_path, intra_op_threads=os.cpu_count() or 1)
    if not classifier.contract.open_set:
        raise ModelError(
            f"model {Path(model_path).name} is a closed-set classifier (no embedding output): enroll needs a model "
            f"trained by this version of `streamer train`"
        )
    cutter = FaceCutter(classifier.input_size, classifier.crop_margin, detector)
    characters, faces, without_face = [], {}, {}
    for character in folders:
        paths = list_images(character)[0]
        crops, used, without = cutter.cut(paths)
        if on_image is not None:
            on_image(len(paths))
        if not crops:
            raise InputError(f"{character}: no face found in any of its {len(paths)} images; nothing to enroll for {character.name}")
        embeddings = np.concatenate([classifier.embed(crops[i : i + 32]) for i in range(0, len(crops), 32)])
        characters.append(EnrolledCharacter(character.name, tuple(str(p.relative_to(folder)) for p in used), embeddings))
        faces[character.name] = len(crops)
        if without:
            without_face[character.name] = tuple(without)
    identity = model_identity(model_path, classifier.contract.embedding_size)
    gallery = Gallery(identity, tuple(characters))
    also_trained = tuple(c.name for c in characters if c.name in classifier.trained_labels)
    return EnrollResult(gallery, faces, without_face, also_trained, time.monotonic() - started)
