"""`streamer prepare` and the image reading under it: real keima3 illustrations (linked, never
copied into the repo) plus odd files the tests make themselves. No TensorFlow here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import CASCADE_PATH, DATASETS
from streamer.image_files import ALPHA_BACKGROUND, decode_image, list_images, natural_key, read_image
from streamer.training.prepare import DetectorSettings, prepare, split_test
from streamer.detectors import largest_face_crop
from streamer.cli import main
from streamer.errors import InputError, OutputError
from streamer.model_contract import CROP_MARGIN, crop_face

KEIMA3_RAW = DATASETS / "keima3" / "raw"
# Small illustrations (fast to scan) covering alpha PNGs, JPEGs and an image with two faces.
SMALL = {
    "nishikino_maki": ["4.jpg", "10.png", "23.png", "30.jpg"],
    "sakurauchi_riko": ["16.jpg", "29.jpg", "31.jpg", "35.jpg"],
    "takimoto_hifumi": ["4.jpg", "12.jpg", "25.png", "28.png"],
}


def link_raw(root: Path, selection: dict[str, list[str]] = SMALL) -> Path:
    for character, names in selection.items():
        (root / character).mkdir(parents=True)
        for name in names:
            os.symlink(KEIMA3_RAW / character / name, root / character / name)
    return root


def sample_bgr() -> np.ndarray:
    image = cv2.imread(str(KEIMA3_RAW / "sakurauchi_riko" / "16.jpg"))
    assert image is not None
    return image


# --- reading images ---------------------------------------------------------------------


def test_natural_order_puts_2_before_10():
    names = ["10.jpg", "2.png", "1.jpg", "b.png", "a10.png", "a9.png"]
    assert sorted(names, key=natural_key) == ["1.jpg", "2.png", "10.jpg", "a9.png", "a10.png", "b.png"]


def test_grayscale_16bit_and_alpha_pngs_become_bgr8(tmp_path):
    bgr = sample_bgr()
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)
    bgra = np.dstack([bgr, np.full(gray.shape, 255, np.uint8)])
    bgra[:40, :, 3] = 0  # a transparent band whose colour channels hold black
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)

    assert np.array_equal(read_image(tmp_path / "gray.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    assert np.array_equal(read_image(tmp_path / "deep.png"), bgr)
    alpha = read_image(tmp_path / "alpha.png")
    assert alpha.shape == bgr.shape and alpha.dtype == np.uint8
    assert np.all(alpha[:40] == ALPHA_BACKGROUND) and np.array_equal(alpha[40:], bgr[40:])


def test_cmyk_jpeg_and_grey_alpha_png_are_read_in_colour_order(tmp_path):
    from PIL import Image  # a dependency of matplotlib; only PIL writes CMYK JPEGs

    bgr = sample_bgr()
    rgb = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    rgb.convert("LA").save(tmp_path / "grey_alpha.png")
    cmyk = read_image(tmp_path / "cmyk.jpg")
    assert cmyk.shape == bgr.shape
    # Close to the original colours (JPEG loss only), so channels were not swapped or inverted.
    assert np.abs(cmyk.astype(int) - bgr).mean() < 8
    grey_alpha = read_image(tmp_path / "grey_alpha.png")
    assert grey_alpha.shape == bgr.shape and np.array_equal(grey_alpha[..., 0], grey_alpha[..., 2])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:-2], "truncated"),
        (lambda data: b"", "empty"),
        (lambda data: b"this is not an image\n" * 20, "not an image"),
    ],
    ids=["half", "missing-end-marker", "empty", "text"],
)
@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_broken_files_are_input_errors(tmp_path, make, message, suffix):
    ok, encoded = cv2.imencode(suffix, sample_bgr())
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(make(encoded.tobytes()))
    with pytest.raises(InputError, match=message):
        read_image(path)


def test_list_images_separates_other_files_and_ignores_hidden(tmp_path):
    for name in ["10.jpg", "2.PNG", "notes.txt", ".DS_Store", "1.webp"]:
        (tmp_path / name).write_bytes(b"x")
    images, others = list_images(tmp_path)
    assert [p.name for p in images] == ["1.webp", "2.PNG", "10.jpg"]
    assert [p.name for p in others] == ["notes.txt"]


def test_decode_rejects_what_it_cannot_decode():
    with pytest.raises(InputError, match="x.bmp"):
        decode_image(b"BM" + b"\0" * 10, "x.bmp")


# --- the split --------------------------------------------------------------------------


def test_default_split_is_the_last_sixth_by_number():
    names = sorted((f"{i}.jpg" for i in range(1, 37)), key=natural_key)
    assert split_test(names, 1 / 6, None) == {f"{i}.jpg" for i in range(31, 37)}
    # 35 images (takimoto_hifumi lacks 19): still 31-36, as upstream.
    names35 = [n for n in names if n != "19.jpg"]
    assert split_test(names35, 1 / 6, None) == {f"{i}.jpg" for i in range(31, 37)}


def test_seeded_split_is_reproducible_and_sized():
    names = [f"{i}.png" for i in range(1, 25)]
    first, again, other = (split_test(names, 0.25, seed) for seed in (7, 7, 8))
    assert first == again and len(first) == 6 and first != other


def test_split_keeps_at_least_one_training_image():
    assert split_test(["1.png"], 0.5, None) == set()
    assert split_test(["1.png", "2.png"], 0.9, None) == {"2.png"}
    assert split_test(["1.png", "2.png", "3.png"], 0.0, None) == set()


# --- prepare on real illustrations ------------------------------------------------------


def test_prepare_crops_like_the_runtime_and_reports_odd_files(tmp_path):
    raw = link_raw(tmp_path / "raw")
    (raw / "nishikino_maki" / "readme.txt").write_text("not an image")
    data = (KEIMA3_RAW / "sakurauchi_riko" / "29.jpg").read_bytes()
    (raw / "sakurauchi_riko" / "0.jpg").write_bytes(data[: len(data) // 3])  # a cut-off download
    cv2.imwrite(str(raw / "takimoto_hifumi" / "0.png"), np.full((300, 300, 3), 200, np.uint8))  # no face
    out = tmp_path / "faces"

    assert main(["prepare", str(raw), str(out), "--detector", "cascade", "--cascade", str(CASCADE_PATH), "-q"]) == 0

    def names(subset, character):
        return sorted((p.name for p in (out / subset / character).iterdir()), key=natural_key)

    # 4 or 5 images each → round(n/6) = 1 test image: the last one by number.
    assert names("train", "nishikino_maki") == ["4.png", "10.png", "23.png"]
    assert names("test", "nishikino_maki") == ["30.png"]
    assert names("train", "sakurauchi_riko") == ["16.png", "29.png", "31.png"]
    assert names("test", "sakurauchi_riko") == ["35.png"]
    assert names("test", "takimoto_hifumi") == ["28.png"]
    crops = list(out.rglob("*.png"))
    assert len(crops) == 12  # every real illustration gave a face
    assert all(cv2.imread(str(p)).shape == (96, 96, 3) for p in crops)

    text = (out / "prepare-report.md").read_text()
    assert "| nishikino_maki | 4 | 4 | 3 | 1 | 0 | 0 | 0 | 1 |" in text
    assert "not an image (skipped): `nishikino_maki/readme.txt`" in text
    assert "unreadable: `sakurauchi_riko/0.jpg`: truncated" in text
    assert "no face found: `takimoto_hifumi/0.png`" in text
    assert "2 faces (the largest was kept): `takimoto_hifumi/12.jpg`" in text
    # How the crops were cut, for `train` to record in the model's contract.
    assert json.loads((out / "prepare.json").read_text())["crop_margin"] == CROP_MARGIN

    # The crop is exactly the runtime's: the detector's largest box through crop_face.
    detector = DetectorSettings(detector="cascade", cascade=str(CASCADE_PATH)).build()
    image = read_image(raw / "takimoto_hifumi" / "12.jpg")
    boxes = detector.detect(image).xyxy
    largest = boxes[np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
    expected = crop_face(image, largest, (96, 96))
    assert np.array_equal(cv2.imread(str(out / "train" / "takimoto_hifumi" / "12.png")), expected)
    crop, count = largest_face_crop(image, detector, (96, 96))
    assert count == 2 and np.array_equal(crop, expected)


def test_prepare_refuses_a_character_without_any_face_and_writes_nothing(tmp_path, capsys):
    raw = link_raw(tmp_path / "raw", {"nishikino_maki": ["4.jpg"], "sakurauchi_riko": ["16.jpg"]})
    blank = raw / "blank_character"
    blank.mkdir()
    for i in range(2):
        cv2.imwrite(str(blank / f"{i}.png"), np.full((200, 200, 3), 255 * i, np.uint8))
    out = tmp_path / "faces"
    assert main(["prepare", str(raw), str(out), "--detector", "cascade", "--cascade", str(CASCADE_PATH), "-q"]) == InputError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: no face found in any image of blank_character") and err.count("\n") == 1
    assert not out.exists() and [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "has no character folders"),
        ({"": ["1.jpg"]}, "put each character's images in a folder of its own"),
        ({"only_one": ["1.jpg"]}, "only one character (only_one)"),
        ({"a": ["1.jpg"], "b": []}, "no images in character folder(s) b"),
        ({"a": ["1.jpg"], "b": ["notes.txt"]}, "no images in character folder(s) b"),
    ],
    ids=["empty", "loose-images", "single-character", "empty-character", "only-non-images"],
)
def test_prepare_rejects_bad_raw_folders(tmp_path, capsys, layout, message):
    raw = tmp_path / "raw"
    raw.mkdir()
    for character, names in layout.items():
        (raw / character).mkdir(exist_ok=True)
        for name in names:
            (raw / character / name).write_bytes(b"x")
    assert main(["prepare", str(raw), str(tmp_path / "out"), "-q"]) == InputError.exit_code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_prepare_missing_raw_dir(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == InputError.exit_code
    assert "does not exist" in capsys.readouterr().err


def test_existing_output_is_kept_without_force_and_replaced_with_it(tmp_path, capsys):
    raw = link_raw(tmp_path / "raw", {"sakurauchi_riko": ["16.jpg", "35.jpg"], "takimoto_hifumi": ["4.jpg", "12.jpg"]})
    out = tmp_path / "faces"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    args = ["prepare", str(raw), str(out), "--detector", "cascade", "--cascade", str(CASCADE_PATH), "-q"]
    assert main(args) == OutputError.exit_code
    assert "exists and is not empty; pass --force" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "mine"

    assert main(args + ["--force"]) == 0
    assert not (out / "precious.txt").exists()
    assert sorted(p.name for p in (out / "test").iterdir()) == ["sakurauchi_riko", "takimoto_hifumi"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_inside_the_input_is_refused(tmp_path, capsys):
    raw = link_raw(tmp_path / "raw", {"sakurauchi_riko": ["16.jpg"], "takimoto_hifumi": ["4.jpg"]})
    assert main(["prepare", str(raw), str(raw / "faces"), "-q"]) == OutputError.exit_code
    assert "overlaps the input" in capsys.readouterr().err
    assert main(["prepare", str(raw), str(tmp_path), "--force", "-q"]) == OutputError.exit_code
    assert (raw / "sakurauchi_riko" / "16.jpg").exists()


def test_prepare_library_call_reports_counts(tmp_path):
    raw = link_raw(tmp_path / "raw", {"sakurauchi_riko": ["16.jpg", "35.jpg"], "takimoto_hifumi": ["4.jpg", "12.jpg"]})
    seen = []
    report = prepare(raw, tmp_path / "out", settings=DetectorSettings(detector="cascade", cascade=str(CASCADE_PATH)), on_image=lambda: seen.append(1))
    assert len(seen) == 4
    by_name = {c.name: c for c in report.characters}
    assert by_name["takimoto_hifumi"].train == ("4.jpg",) and by_name["takimoto_hifumi"].test == ("12.jpg",)
    assert by_name["takimoto_hifumi"].several_faces == (("12.jpg", 2),)
    assert report.warnings == ()


def test_prepare_uses_the_learned_detector_by_default_and_records_it(tmp_path):
    from streamer.detectors import SHIPPED_DETECTOR
    from streamer.detectors.onnx_face import file_sha256

    raw = link_raw(tmp_path / "raw", {"sakurauchi_riko": ["16.jpg", "35.jpg"], "takimoto_hifumi": ["4.jpg", "12.jpg"]})
    out = tmp_path / "faces"
    assert main(["prepare", str(raw), str(out), "-q"]) == 0
    assert len(list(out.rglob("*.png"))) == 4
    settings = json.loads((out / "prepare.json").read_text())
    assert settings["detector_name"].startswith("face_detector.onnx sha256:" + file_sha256(SHIPPED_DETECTOR)[:12])
    assert settings["detector_box"].startswith("face:")
    assert "learned face detector face_detector.onnx" in (out / "prepare-report.md").read_text()
    from streamer.training.dataset import detector_of

    assert detector_of(out) == (settings["detector_name"], settings["detector_box"])
    (out / "prepare.json").write_text(json.dumps({"crop_margin": 0.2}))  # prepared by an older version
    assert detector_of(out)[0] == "cascade"


ONEPIECE6_RAW = DATASETS / "onepiece6" / "raw"
# Character crops cut tight around the head, where the shipped detector finds no face until the
# picture is framed in grey; the faces boxed by hand (x1, y1, x2, y2) on the pictures.
TIGHT_CROPS = {
    "sanji/8.jpg": (40, 28, 104, 84),
    "luffy/45.jpg": (28, 22, 68, 56),
}


@pytest.mark.parametrize("name", sorted(TIGHT_CROPS))
def test_a_face_cut_off_by_the_picture_edge_is_found_in_the_picture_framed_in_grey(name):
    from streamer.detectors import SHIPPED_DETECTOR
    from streamer.detectors.base import faces_in_picture
    from streamer.detections import box_iou

    detector = DetectorSettings(detector=str(SHIPPED_DETECTOR)).build()
    image = read_image(ONEPIECE6_RAW / name)
    assert len(detector.detect(image)) == 0  # as the picture is
    found = faces_in_picture(image, detector)
    height, width = image.shape[:2]
    assert len(found) >= 1
    assert (found.xyxy[:, [0, 2]] >= 0).all() and (found.xyxy[:, [0, 2]] <= width).all()
    assert (found.xyxy[:, [1, 3]] >= 0).all() and (found.xyxy[:, [1, 3]] <= height).all()
    assert box_iou(found.xyxy, np.array([TIGHT_CROPS[name]])).max() >= 0.6
    # prepare and enroll cut their crop from that box, with the runtime's crop rule.
    crop, count = largest_face_crop(image, detector, (96, 96))
    largest = found.xyxy[np.argmax(found.area)]
    assert count == len(found) and np.array_equal(crop, crop_face(image, largest, (96, 96)))


class _FramedOnlyDetector:
    """A detector stand-in: no face in the picture as it is; in a framed one, a box on the grey
    frame's top-left corner and one across the picture's top-left corner."""

    name, box_convention, detect_width, wants_color, zooms = "stand-in", "face", None, True, ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def detect(self, image, zooms=None):
        from streamer.detections import Detections

        if image.shape == self.shape:
            return Detections.empty()
        return Detections.from_boxes([[0, 0, 10, 10], [10, 10, 40, 40]], [0.9, 0.8])


def test_a_box_on_the_grey_frame_alone_is_no_face_of_the_picture():
    from streamer.detectors.base import faces_in_picture

    image = np.full((80, 60, 3), 200, np.uint8)  # framed by 20 px each way
    found = faces_in_picture(image, _FramedOnlyDetector(image.shape))
    # The corner box lies on the frame: dropped. The other, clipped to the picture.
    assert found.xyxy.tolist() == [[0, 0, 20, 20]] and found.confidence.tolist() == pytest.approx([0.8])
