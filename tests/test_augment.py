"""The classifier's training augmentation on real face crops: the broadcast look shrinks faces
and changes their width; nothing changes outside training."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import DATASETS

pytestmark = pytest.mark.train  # imports TensorFlow


def _crops(count: int = 16) -> np.ndarray:
    files = sorted((DATASETS / "newgame8" / "test").rglob("*.jpg"))[:count]
    assert len(files) == count
    return np.stack([cv2.resize(cv2.imread(str(f))[:, :, ::-1], (96, 96)) for f in files]).astype(np.float32)


def _sharpness(images: np.ndarray) -> np.ndarray:
    grey = images.mean(axis=-1)
    return np.array([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey])


def test_shrink_and_restore_softens_a_share_of_the_crops_only_in_training():
    from streamer.training.augment import ShrinkAndRestore

    crops = _crops()
    layer = ShrinkAndRestore(0.5, seed=3)
    assert np.array_equal(np.asarray(layer(crops, training=False)), crops)
    out = np.asarray(layer(crops, training=True))
    assert out.shape == crops.shape
    changed = np.abs(out - crops).reshape(len(crops), -1).mean(axis=1) > 0.5
    assert 0 < changed.sum() < len(crops)
    # The shrunk ones lost their fine detail; the others are untouched.
    assert (_sharpness(out)[changed] < 0.7 * _sharpness(crops)[changed]).all()
    assert np.array_equal(out[~changed], crops[~changed])


def test_broadcast_off_keeps_the_first_versions_augmentation():
    from streamer.training.augment import build_augmenter

    assert build_augmenter(0, 0, 1) is None
    plain = [layer.__class__.__name__ for layer in build_augmenter(1.0, 0.0, 1).layers]
    assert plain == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness", "RandomContrast"]
    broadcast = build_augmenter(1.0, 1.0, 1)
    zoom = next(layer for layer in broadcast.layers if layer.__class__.__name__ == "RandomZoom")
    assert zoom.width_factor is not None and zoom.width_factor != zoom.height_factor  # faces stretched sideways
    assert broadcast.layers[-1].__class__.__name__ == "ShrinkAndRestore"
