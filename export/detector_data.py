"""Training samples for the face detector: augmented square crops and their CenterNet targets.

Illustrations and broadcast frames differ (cel shading, compression, blur, low resolution,
small and turned faces, 16:9 frames stretched or not), so every sample is pushed towards what
the runtime sees: scaled so the picture's long side is around the runtime's detection width,
stretched sideways at random, sometimes four pictures in a mosaic (small faces), and degraded
like a broadcast frame (posterised colours, blur, a down-and-up resize, JPEG artefacts, noise).
Negative patches (backgrounds, flat regions) fill some mosaic tiles.

There is no separate hard-negative step: the heatmap loss is dense, so every location that is
not a face centre is a negative, and the focal loss weights the confusing ones (hair, hands,
clothes, background characters' bodies) most: online hard-negative mining.

Targets (`encode_targets`), on a grid of `size / stride` cells:
    heatmap (g, g, 1): an elliptical Gaussian peak per face, 1 at the centre cell;
    regression (g, g, 4): at the centre cell, the sub-cell offset (dx, dy) and log(w / stride),
        log(h / stride);
    masks: where the regression is trained (centre cells), and where the heatmap loss counts
        (0 inside `ignore` boxes and faces cut so much that they are neither face nor background).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamer.face_boxes import LabeledPicture

STRIDE = 8
VISIBLE_TO_KEEP = 0.5  # a face cut by the crop keeps its (clipped) box if this much of it remains
GAUSSIAN_ALPHA = 0.54  # TTFNet's sigma = alpha * side / 6


@dataclass
class Example:
    """A picture in memory (BGR, longest side at most `max_side`), boxes in its pixels."""

    image: np.ndarray
    boxes: np.ndarray  # (n, 4) positives
    ignored: np.ndarray  # (m, 4) count neither way
    weight: float = 1.0


def load_examples(pictures: list[LabeledPicture], max_side: int = 800) -> list[Example]:
    examples = []
    for picture in pictures:
        image = cv2.imread(str(picture.path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        scale = min(1.0, max_side / max(image.shape[:2]))
        # Annotations are in the picture's stated size; the file is the ground truth for pixels.
        sx = image.shape[1] / picture.width * scale
        sy = image.shape[0] / picture.height * scale
        if scale < 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        factor = np.array([sx, sy, sx, sy], np.float32)
        examples.append(Example(image, picture.boxes() * factor, picture.ignored_boxes() * factor))
    return examples


def load_patches(paths: list, size: int = 160) -> list[np.ndarray]:
    patches = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            patches.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR))
    return patches


class SampleMaker:
    """`make()` → (crop BGR uint8 (size, size, 3), boxes (n, 4), ignored (m, 4)) at random.

    runtime_side: the long side pictures have when the runtime runs the detector on them (its
    detection width); training scales pictures around it.
    """

    def __init__(
        self,
        groups: list[tuple[list[Example], float]],
        negatives: list[np.ndarray],
        rng: np.random.Generator,
        size: int = 320,
        runtime_side: int = 480,
        mosaic: float = 0.3,
        degrade: float = 1.0,
    ) -> None:
        self.groups = [(examples, weight) for examples, weight in groups if examples]
        total = sum(weight for _, weight in self.groups)
        self.group_p = np.array([weight / total for _, weight in self.groups])
        self.negatives = negatives
        self.rng = rng
        self.size = size
        self.runtime_side = runtime_side
        self.mosaic = mosaic
        self.degrade = degrade

    def _pick(self) -> Example:
        examples = self.groups[self.rng.choice(len(self.groups), p=self.group_p)][0]
        return examples[self.rng.integers(len(examples))]

    def make(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.rng.random() < self.mosaic:
            crop, boxes, ignored = self._mosaic()
        else:
            long_side = self.runtime_side * float(np.exp(self.rng.uniform(np.log(0.5), np.log(1.6))))
            crop, boxes, ignored = self._crop(self._pick(), self.size, long_side)
        if self.rng.random() < 0.5:
            crop = crop[:, ::-1]
            boxes = _flip(boxes, self.size)
            ignored = _flip(ignored, self.size)
        crop = self._photometric(np.ascontiguousarray(crop))
        return crop, boxes, ignored

    def _mosaic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        half = self.size // 2
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        all_boxes, all_ignored = [], []
        for row in range(2):
            for col in range(2):
                if self.negatives and self.rng.random() < 0.25:
                    patch = self.negatives[self.rng.integers(len(self.negatives))]
                    tile = cv2.resize(patch, (half, half))
                    boxes = ignored = np.zeros((0, 4), np.float32)
                else:
                    long_side = self.runtime_side * float(np.exp(self.rng.uniform(np.log(0.25), np.log(0.9))))
                    tile, boxes, ignored = self._crop(self._pick(), half, long_side)
                offset = np.array([col * half, row * half] * 2, np.float32)
                canvas[row * half : (row + 1) * half, col * half : (col + 1) * half] = tile
                all_boxes.append(boxes + offset)
                all_ignored.append(ignored + offset)
        return canvas, np.concatenate(all_boxes), np.concatenate(all_ignored)

    def _crop(self, example: Example, size: int, long_side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A size x size window of the example scaled to `long_side`, randomly stretched sideways."""
        rng = self.rng
        h, w = example.image.shape[:2]
        scale = long_side / max(h, w)
        # Broadcast frames come squashed to squares, or wide: faces narrower or wider than drawn.
        stretch = float(np.exp(rng.uniform(np.log(0.6), np.log(1.3))))
        sx, sy = scale * stretch, scale
        new_w, new_h = max(1, int(round(w * sx))), max(1, int(round(h * sy)))
        interpolation = cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_LINEAR
        image = cv2.resize(example.image, (new_w, new_h), interpolation=interpolation)
        factor = np.array([sx, sy, sx, sy], np.float32)
        boxes, ignored = example.boxes * factor, example.ignored * factor
        # Place the window: anywhere over the picture, padded when the picture is smaller.
        x0 = int(rng.integers(min(0, new_w - size), max(0, new_w - size) + 1))
        y0 = int(rng.integers(min(0, new_h - size), max(0, new_h - size) + 1))
        fill = rng.integers(0, 256, 3).astype(np.uint8) if rng.random() < 0.5 else np.zeros(3, np.uint8)
        crop = np.empty((size, size, 3), np.uint8)
        crop[:] = fill
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(new_w, x0 + size), min(new_h, y0 + size)
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        shift = np.array([x0, y0, x0, y0], np.float32)
        kept, cut = _clip_boxes(boxes - shift, size)
        still_ignored, _ = _clip_boxes(ignored - shift, size, keep=0.0)
        return crop, kept, np.concatenate([still_ignored, cut])

    def _photometric(self, crop: np.ndarray) -> np.ndarray:
        rng, p = self.rng, self.degrade
        image = crop
        if rng.random() < 0.8:
            hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16)
            hsv[..., 0] = (hsv[..., 0] + rng.integers(-10, 11)) % 180
            hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.4), 0, 255)
            hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.6, 1.3) + rng.uniform(-20, 20), 0, 255)
            image = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
        if rng.random() < 0.25 * p:  # flat cel shading: fewer colour levels, smoothed
            levels = int(rng.integers(12, 40))
            image = cv2.bilateralFilter(image, 5, 40, 5)
            image = ((image.astype(np.uint16) * levels // 256) * 255 // max(1, levels - 1)).astype(np.uint8)
        if rng.random() < 0.3 * p:
            factor = rng.uniform(0.35, 0.8)
            small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            image = cv2.resize(small, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.25 * p:
            k = int(rng.choice([3, 5]))
            image = cv2.GaussianBlur(image, (k, k), 0) if rng.random() < 0.7 else _motion_blur(image, k, rng)
        if rng.random() < 0.2 * p:
            noise = rng.normal(0, rng.uniform(2, 8), image.shape)
            image = np.clip(image + noise, 0, 255).astype(np.uint8)
        if rng.random() < 0.5 * p:
            quality = int(rng.integers(20, 85))
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if rng.random() < 0.05:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        return image


def _motion_blur(image: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    kernel = np.zeros((k, k), np.float32)
    if rng.random() < 0.5:
        kernel[k // 2, :] = 1.0 / k
    else:
        kernel[:, k // 2] = 1.0 / k
    return cv2.filter2D(image, -1, kernel)


def _flip(boxes: np.ndarray, size: int) -> np.ndarray:
    flipped = boxes.copy()
    flipped[:, 0], flipped[:, 2] = size - boxes[:, 2], size - boxes[:, 0]
    return flipped


def _clip_boxes(boxes: np.ndarray, size: int, keep: float = VISIBLE_TO_KEEP) -> tuple[np.ndarray, np.ndarray]:
    """(boxes clipped to the window that keep >= `keep` of their area, the rest clipped: cut ones)."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4), boxes.reshape(0, 4)
    clipped = np.clip(boxes, 0, size)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    visible = np.clip(clipped[:, 2] - clipped[:, 0], 0, None) * np.clip(clipped[:, 3] - clipped[:, 1], 0, None)
    fraction = visible / np.maximum(area, 1e-6)
    sides = np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1])
    good = (fraction >= keep) & (sides >= 4) if keep > 0 else visible > 0
    partial = ~good & (visible > 0)
    return clipped[good], clipped[partial]


def encode_targets(boxes: np.ndarray, ignored: np.ndarray, size: int, stride: int = STRIDE):
    """CenterNet targets for one sample: heatmap (g, g, 1), regression (g, g, 4), reg mask (g, g, 1),
    heatmap weight (g, g, 1)."""
    grid = size // stride
    heatmap = np.zeros((grid, grid), np.float32)
    regression = np.zeros((grid, grid, 4), np.float32)
    reg_mask = np.zeros((grid, grid), np.float32)
    weight = np.ones((grid, grid), np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float32)
    # Larger faces first so a small face's centre, written last, wins a shared cell.
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) if len(boxes) else []
    for i in order:
        x1, y1, x2, y2 = boxes[i] / stride
        w, h = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = min(grid - 1, max(0, int(cx))), min(grid - 1, max(0, int(cy)))
        sigma_x, sigma_y = max(0.5, GAUSSIAN_ALPHA * w / 6), max(0.5, GAUSSIAN_ALPHA * h / 6)
        peak = np.exp(-((xs - ix) ** 2) / (2 * sigma_x**2) - ((ys - iy) ** 2) / (2 * sigma_y**2))
        np.maximum(heatmap, peak, out=heatmap)
        heatmap[iy, ix] = 1.0
        regression[iy, ix] = (cx - ix, cy - iy, np.log(w), np.log(h))
        reg_mask[iy, ix] = 1.0
    for x1, y1, x2, y2 in ignored / stride:
        gx1, gy1 = int(np.floor(max(0, x1))), int(np.floor(max(0, y1)))
        gx2, gy2 = int(np.ceil(min(grid, x2))), int(np.ceil(min(grid, y2)))
        region = weight[gy1:gy2, gx1:gx2]
        # Keep the loss on real face peaks that happen to overlap an ignored box.
        region[heatmap[gy1:gy2, gx1:gx2] < 1.0] = 0.0
    return heatmap[..., None], regression, reg_mask[..., None], weight[..., None]
