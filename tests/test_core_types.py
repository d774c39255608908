from fractions import Fraction

import av
import numpy as np
import pytest

from streamer.detections import Detections, box_iou
from streamer.frames import YUV420P, Frame
from streamer.model_contract import ModelContract, face_crop_box


def test_detections_are_immutable_and_filter_by_mask():
    d = Detections.from_boxes([[0, 0, 10, 10], [5, 5, 25, 25]], confidence=[0.9, 0.2])
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 3
    kept = d[d.confidence > 0.5]
    assert len(kept) == 1 and kept.xyxy[0].tolist() == [0, 0, 10, 10]
    assert d.replace(tracker_id=np.array([7, 8])).tracker_id.tolist() == [7, 8]
    assert d.tracker_id.tolist() == [-1, -1]


def test_box_iou():
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert np.allclose(iou, [[1.0, 1 / 3, 0.0]])


def test_yuv_frame_crop_matches_full_conversion(shared):
    with av.open(str(shared / "videos" / "sakurasou_480p.mp4")) as container:
        decoded = next(container.decode(video=0))
    frame = Frame(decoded.to_ndarray(format="yuv420p"), 0, 0, Fraction(1, 24000), 0.0, YUV420P)
    assert (frame.width, frame.height) == (852, 480)
    full = frame.to_bgr().astype(int)
    for x1, y1, x2, y2 in [(11, 13, 101, 203), (100, 100, 150, 151), (0, 0, 852, 480)]:
        crop = frame.crop_bgr(x1, y1, x2, y2).astype(int)
        assert crop.shape == (y2 - y1, x2 - x1, 3)
        assert np.abs(crop - full[y1:y2, x1:x2]).max() <= 2


def test_contract_roundtrip_and_crop_box():
    contract = ModelContract(labels=("a", "b"), input_size=(96, 96))
    assert ModelContract.from_metadata(contract.to_metadata()) == contract
    tight = ModelContract(labels=("a", "b"), crop_margin=0.0)
    assert ModelContract.from_metadata(tight.to_metadata()).crop_margin == 0.0
    # Models exported before the key existed were cut with the default margin.
    legacy = {k: v for k, v in contract.to_metadata().items() if k != "crop_margin"}
    assert ModelContract.from_metadata(legacy).crop_margin == contract.crop_margin
    assert face_crop_box(np.array([10, 10, 20, 20]), 100, 100, margin=0.5) == (5, 5, 25, 25)
    assert face_crop_box(np.array([0, 0, 20, 20]), 15, 15, margin=0.0) == (0, 0, 15, 15)


@pytest.mark.parametrize("width, height", [(1280, 720), (480, 270), (640, 350), (322, 182)])
def test_yuv_frames_of_any_even_size_crop_and_draw(width, height):
    """Heights that are not multiples of 4 put the chroma planes across row boundaries."""
    from streamer import overlay

    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    import cv2

    frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), 0, 0, Fraction(1, 25), 0.0, YUV420P)
    crop = frame.crop_bgr(10, 11, 60, 71).astype(int)
    assert np.abs(crop - frame.to_bgr()[11:71, 10:60].astype(int)).max() <= 2
    faces = Detections.from_boxes([[20, 40, 120, 140]]).replace(
        class_id=np.array([0]), class_name=np.array(["nishikino_maki"], dtype=object)
    )
    drawn = overlay.draw(frame, faces)
    color = np.array(overlay.character_color(0, "nishikino_maki"))
    edge = drawn.to_bgr()[60:120, 20].astype(int)
    assert np.median(np.abs(edge - color).max(axis=1)) < 12
