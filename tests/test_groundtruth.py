"""streamer.groundtruth: reading the per-frame truth files that samples/make_clip.py writes."""

from __future__ import annotations

import json

import pytest

from streamer.errors import InputError
from streamer.groundtruth import FrameTruth, TruthFace, read_truth

HEADER = {
    "kind": "header",
    "version": 1,
    "video": "clip.mp4",
    "shots": [{"shot": 0, "start_frame": 0, "frames": 2, "names": ["maki", "maki"]}],
    "frames": 2,
}
FRAMES = [
    FrameTruth(0, 0.0, 0, (TruthFace((1.0, 2.0, 30.0, 40.0), "maki", 1.0, 0), TruthFace((50.0, 2.0, 80.0, 40.0), "maki", 0.7, 1))),
    FrameTruth(1, 0.041708, 0, (TruthFace((51.0, 2.0, 80.0, 40.0), "maki", 0.6, 1),)),
]


def write(path, header, records):
    path.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n", encoding="utf-8")
    return path


def test_round_trip(tmp_path):
    truth = read_truth(write(tmp_path / "t.jsonl", HEADER, [f.to_json() for f in FRAMES]))
    assert truth.frames == tuple(FRAMES) and truth.header["video"] == "clip.mp4" and truth.shots == 1


def test_files_without_face_indices_take_them_from_the_shot_names(tmp_path):
    records = [f.to_json() for f in FRAMES]
    for record in records:
        for face in record["faces"]:
            del face["face"]
    truth = read_truth(write(tmp_path / "t.jsonl", HEADER, records))
    # Frame 0 has both faces (0 and 1); frame 1 only one, read as the first of the shot's names.
    assert [[f.face for f in frame.faces] for frame in truth.frames] == [[0, 1], [0]]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        ("", "first line is not a header"),
        ('{"frame": 0}\n', "first line is not a header"),
        ("\x00\xff garbage", "not JSON"),
        (b"\xff\xfe\x00 an MP4 perhaps", "cannot read ground truth"),
        (json.dumps({**HEADER, "version": 9}) + "\n", "version 9 is not 1"),
        (json.dumps(HEADER) + '\n{"frame": 0, "time": 0, "shot": 0}\n', "line 2: malformed frame record"),
        (json.dumps(HEADER) + '\n{"frame": 0, "time": 0, "shot": 0, "faces": [{"box": [1, 2], "name": "a", "visible": 1}]}\n',
         "a box needs 4 numbers"),
        (json.dumps(HEADER) + '\n{"frame": 3, "time": 0, "shot": 0, "faces": []}\n', "frame 3 where 0 was expected"),
        (json.dumps(HEADER) + '\n{"frame": 0, "time": 0, "shot": 0, "faces": []}\n', "header says 2 frames, file has 1"),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path, content, message):
    path = tmp_path / "t.jsonl"
    if content is not None:
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(InputError, match=message) as caught:
        read_truth(path)
    assert "\n" not in str(caught.value)


def test_a_folder_is_not_a_truth_file(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_truth(tmp_path)
