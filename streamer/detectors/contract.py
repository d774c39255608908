"""What an ONNX face detector carries in its metadata, so `--detector PATH.onnx` alone is enough.

`streamer export` writes these keys (ONNX `metadata_props`, JSON strings); the runtime reads
them back and refuses a model without `kind = face_detector` (a character classifier, say):

    kind             "face_detector"
    input            {"color": "RGB", "layout": "NHWC", "scale": "0..255", "multiple": 32}
                     the graph scales pixels itself; H and W must be multiples of `multiple`
    stride           8      one output cell per 8x8 input pixels
    encoding         "centernet": per cell a peak score (sigmoid, 3x3 max-pool filtered: 0
                     off the peaks) and dx, dy, log w, log h; a face's centre is
                     ((col + dx) * stride, (row + dy) * stride), its size exp(log w) * stride
    score_threshold  0.35   peaks at or above it are faces (chosen on held-out frames)
    nms_iou          0.5    overlapping boxes above this IoU keep the higher score
    detect_width     480    the width the detector was trained to see frames at
    box              "face: hairline to chin, cheek to cheek" (the box convention)
    trained_on       what it was trained on (free text)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from streamer.errors import ModelError

KIND = "face_detector"
BOX_CONVENTION = "face: hairline (or fringe) to chin, cheek to cheek; a face cut by the frame edge is boxed where visible"


@dataclass(frozen=True)
class DetectorContract:
    stride: int = 8
    multiple: int = 32
    score_threshold: float = 0.35
    nms_iou: float = 0.5
    detect_width: int = 480
    box: str = BOX_CONVENTION
    trained_on: str = ""

    def to_metadata(self) -> dict[str, str]:
        return {
            "kind": KIND,
            "input": json.dumps({"color": "RGB", "layout": "NHWC", "scale": "0..255", "multiple": self.multiple}),
            "stride": json.dumps(self.stride),
            "encoding": "centernet",
            "score_threshold": json.dumps(self.score_threshold),
            "nms_iou": json.dumps(self.nms_iou),
            "detect_width": json.dumps(self.detect_width),
            "box": self.box,
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str = "detector") -> "DetectorContract":
        kind = metadata.get("kind")
        if kind != KIND:
            what = "a character classifier" if "labels" in metadata else "not a streamer face detector"
            raise ModelError(f"{source} is {what} (its metadata has no kind={KIND}); pass a face detector ONNX or 'cascade'")
        if metadata.get("encoding", "centernet") != "centernet":
            raise ModelError(f"{source}: unknown box encoding {metadata.get('encoding')!r}")
        try:
            layout = json.loads(metadata.get("input", "{}"))
            contract = cls(
                stride=int(json.loads(metadata.get("stride", "8"))),
                multiple=int(layout.get("multiple", 32)),
                score_threshold=float(json.loads(metadata.get("score_threshold", "0.35"))),
                nms_iou=float(json.loads(metadata.get("nms_iou", "0.5"))),
                detect_width=int(json.loads(metadata.get("detect_width", "480"))),
                box=str(metadata.get("box", BOX_CONVENTION)),
                trained_on=str(metadata.get("trained_on", "")),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModelError(f"{source}: malformed face-detector metadata ({exc})") from None
        if contract.stride < 1 or contract.multiple < 1 or not 0 < contract.score_threshold < 1 or not 0 < contract.nms_iou <= 1:
            raise ModelError(f"{source}: face-detector metadata out of range: {contract}")
        return contract
