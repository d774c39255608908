"""One face per picture, the way `prepare` cuts training crops: what `enroll` and
`evaluate --foreign` take as input.

A picture is either a ready-made face crop (square-ish, both sides at most READY_MADE_MAX_SIDE
px, like newgame8's 96x96 crops or animeface's 64x64 ones), used as it is, as `train` uses such crops,
or an illustration, whose largest face is found with the same detector and settings as
`prepare` (`streamer.detectors.settings`) and cut with the model's crop margin.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from streamer.image_files import read_image

# Pictures this small are face crops already: no detector finds a face filling the whole
# picture reliably, and cutting a margin around it would need pixels that are not there.
# Face crops are cut square; small pictures of another shape (onepiece6's whole-character crops,
# 80x120 and such) are pictures with a face somewhere in them.
READY_MADE_MAX_SIDE = 128
READY_MADE_ASPECT = 1.25


def is_ready_made(image: np.ndarray) -> bool:
    height, width = image.shape[:2]
    return max(height, width) <= READY_MADE_MAX_SIDE and max(height, width) <= READY_MADE_ASPECT * min(height, width)


class FaceCutter:
    """cut(paths) → (crops, the picture of each crop, illustrations where no face was found).

    The detector is loaded on the first illustration only: folders of crops never load one.
    """

    def __init__(self, size: tuple[int, int], margin: float, detector: str | os.PathLike | None = None) -> None:
        self.size = size
        self.margin = margin
        self.detector_spec = detector
        self._detector = None

    def detector(self):
        if self._detector is None:
            from streamer.detectors.settings import DetectorSettings

            spec = None if self.detector_spec is None else str(self.detector_spec)
            self._detector = DetectorSettings(detector=spec).build()
        return self._detector

    def cut(self, paths: list[Path]) -> tuple[list[np.ndarray], list[Path], list[Path]]:
        from streamer.detectors import largest_face_crop

        crops, used, without = [], [], []
        for path in paths:
            image = read_image(path)
            crop = image if is_ready_made(image) else largest_face_crop(image, self.detector(), self.size, self.margin)[0]
            if crop is None:
                without.append(path)
            else:
                crops.append(crop)
                used.append(path)
        return crops, used, without
