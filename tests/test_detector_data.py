"""The detector's training samples and targets (no TensorFlow): what the network is taught."""

from __future__ import annotations

import numpy as np

from streamer.training.detector_data import STRIDE, SampleMaker, encode_targets, load_examples
from streamer.face_boxes import read_pictures
from conftest import DATASETS


def test_targets_put_one_peak_per_face_with_its_offset_and_size():
    boxes = np.array([[16, 24, 80, 104], [200, 200, 220, 216]], np.float32)
    heat, reg, mask, weight = encode_targets(boxes, np.zeros((0, 4), np.float32), 320)
    grid = 320 // STRIDE
    assert heat.shape == (grid, grid, 1) and reg.shape == (grid, grid, 4)
    assert mask.sum() == 2 and (heat == 1.0).sum() == 2 and weight.min() == 1.0
    row, col = 64 // STRIDE, 48 // STRIDE  # centre (48, 64)
    assert heat[row, col, 0] == 1.0 and mask[row, col, 0] == 1.0
    dx, dy, log_w, log_h = reg[row, col]
    assert (col + dx) * STRIDE == 48 and (row + dy) * STRIDE == 64
    assert np.exp(log_w) * STRIDE == np.float32(64) and np.isclose(np.exp(log_h) * STRIDE, 80)
    assert 0 < heat[row, col + 1, 0] < 1  # a Gaussian around the peak, not a single cell


def test_ignored_faces_are_masked_out_of_the_heatmap_loss():
    ignored = np.array([[0, 0, 64, 64]], np.float32)
    heat, _, mask, weight = encode_targets(np.zeros((0, 4), np.float32), ignored, 128)
    assert mask.sum() == 0 and heat.max() == 0
    assert (weight[:8, :8] == 0).all() and weight[8:, 8:].min() == 1.0


def test_samples_are_square_crops_with_boxes_inside_and_are_seeded():
    pictures = read_pictures(DATASETS / "face_boxes" / "episodes")[:12]
    examples = load_examples(pictures)
    assert len(examples) == 12 and all(len(e.boxes) + len(e.ignored) for e in examples[:3])

    def samples(seed):
        maker = SampleMaker([(examples, 1.0)], [], np.random.default_rng(seed), size=160, runtime_side=240)
        return [maker.make() for _ in range(20)]

    first, again = samples(3), samples(3)
    faces = 0
    for (crop, boxes, ignored), (crop2, boxes2, _) in zip(first, again):
        assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
        assert np.array_equal(crop, crop2) and np.array_equal(boxes, boxes2)
        assert ((boxes >= 0) & (boxes <= 160)).all() and ((ignored >= 0) & (ignored <= 160)).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        faces += len(boxes)
    assert faces >= 10  # most samples hold a face
