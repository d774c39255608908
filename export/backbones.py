"""The backbones `train` offers, and where their ImageNet weights come from.

A backbone here is a Keras application without its top, mapping an RGB float32 batch in
0..255 (N, S, S, 3) to a feature vector (N, F) by global average pooling; the scaling each one
expects (x / 127.5 - 1 for MobileNet, MobileNetV2 and InceptionV3; none for EfficientNet,
which scales inside) is part of what `build_backbone` returns, so the exported graph takes
raw pixels and the ONNX metadata says mean 0, std 1.

Weights:
- "none": random initialisation.
- "imagenet": MobileNet alpha 0.25 is resolved through `streamer.assets` (explicit path,
  $STREAMER_ASSETS, the cache, then the pinned, checksummed download), so it works offline
  when the shared models folder is there. Every other backbone and width is downloaded by
  Keras itself from its own URL, checked against the hash Keras carries, and cached in
  ~/.keras/models; we pin no checksum for those files because we could not compute one here.
- a path: a Keras weights file (legacy `*_no_top.h5` as Keras distributes them, or a Keras 3
  `.weights.h5`). Its tensors' shapes decide the width (alpha) when the backbone has one,
  so `--backbone mobilenet --weights mobilenet_2_5_224_tf_no_top.h5` needs no `--alpha`;
  a file for another architecture is refused with ModelError before any training.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from streamer import assets
from streamer.errors import AssetError, ModelError, SettingError, UsageError


@dataclass(frozen=True)
class BackboneSpec:
    """name: the CLI name; application: the keras.applications constructor's name;
    alphas: the widths it comes in (empty: no width multiplier); scaling: "tf" (x/127.5 - 1)
    or "none" (the application scales itself); min_size: its smallest input side."""

    name: str
    application: str
    alphas: tuple[float, ...]
    default_alpha: float | None
    scaling: str
    min_size: int

    def alpha_or_default(self, alpha: float | None) -> float | None:
        if not self.alphas:
            if alpha is not None:
                raise SettingError(f"backbone {self.name} has no width multiplier; leave {{alpha}} unset")
            return None
        if alpha is None:
            return self.default_alpha
        if alpha not in self.alphas:
            raise SettingError(
                f"backbone {self.name} comes in widths {', '.join(str(a) for a in self.alphas)}; got {{alpha}} {alpha}"
            )
        return alpha


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        # MobileNet defaults to 0.25: the width whose ImageNet weights the project pins.
        BackboneSpec("mobilenet", "MobileNet", (0.25, 0.5, 0.75, 1.0), 0.25, "tf", 32),
        BackboneSpec("mobilenetv2", "MobileNetV2", (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), 1.0, "tf", 32),
        BackboneSpec("efficientnetb0", "EfficientNetB0", (), None, "none", 32),
        BackboneSpec("inceptionv3", "InceptionV3", (), None, "tf", 75),
    )
}

# ImageNet weights we can resolve offline / verify ourselves, by (backbone, alpha).
PINNED_IMAGENET = {("mobilenet", 0.25): assets.MOBILENET_025}


@dataclass(frozen=True)
class WeightsChoice:
    """What `--weights` resolved to: kind "imagenet", "none" or "file"; path for a file (or the
    resolved pinned ImageNet file); alpha the width that goes with it."""

    kind: str
    path: Path | None
    alpha: float | None

    def describe(self) -> str:
        if self.kind == "none":
            return "random initialisation"
        if self.path is not None:
            return f"{self.kind} weights from {self.path}"
        return "ImageNet weights downloaded by Keras"


def get_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name.lower()]
    except KeyError:
        raise UsageError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def resolve_weights(spec: BackboneSpec, weights: str, alpha: float | None) -> WeightsChoice:
    """Turn `--weights imagenet|none|PATH` and `--alpha` into a WeightsChoice, checking a file's
    architecture and width. UsageError, AssetError or ModelError with one line."""
    choice = weights.strip()
    if choice.lower() == "none":
        return WeightsChoice("none", None, spec.alpha_or_default(alpha))
    if choice.lower() == "imagenet":
        width = spec.alpha_or_default(alpha)
        pinned = PINNED_IMAGENET.get((spec.name, width))
        if pinned is not None:
            return WeightsChoice("imagenet", assets.resolve(pinned), width)
        return WeightsChoice("imagenet", None, width)
    path = Path(choice)
    if not path.is_file():
        raise SettingError(f"{{weights}} must be imagenet, none or a weights file; {path} is not a file")
    return WeightsChoice("file", path, _width_of_file(spec, path, alpha))


def build_backbone(spec: BackboneSpec, weights: WeightsChoice, size: int):
    """The Keras application for input (size, size, 3), pooled to a vector, with weights loaded."""
    if size < spec.min_size:
        raise UsageError(f"backbone {spec.name} needs inputs of at least {spec.min_size} px; got {size}")
    keras_weights = None
    if weights.kind == "imagenet" and weights.path is None:
        keras_weights = "imagenet"
    try:
        model = _application(spec, weights.alpha, size, keras_weights)
    except Exception as exc:  # Keras reports a failed download as many types (URL, OS, value errors)
        if keras_weights == "imagenet":
            raise AssetError(
                f"Keras could not download the ImageNet weights for {spec.name}"
                f"{'' if weights.alpha is None else f' alpha {weights.alpha}'} ({_first_line(exc)}); "
                f"give a weights file instead, or weights none"
            ) from None
        raise
    if weights.path is not None:
        try:
            model.load_weights(str(weights.path))
        except Exception as exc:  # h5py and Keras raise many types for a file that does not fit
            raise ModelError(f"cannot load {weights.path} into {spec.name}: {_first_line(exc)}") from None
    return model


def preprocessing_layer(spec: BackboneSpec):
    """The layer that turns 0..255 RGB into what the backbone expects (None: nothing to do)."""
    import keras

    if spec.scaling == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_to_unit_range")
    return None


def _application(spec: BackboneSpec, alpha: float | None, size: int, weights: str | None):
    import keras

    constructor = getattr(keras.applications, spec.application)
    kwargs = dict(include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg")
    if alpha is not None:
        kwargs["alpha"] = alpha
    return constructor(**kwargs)


def _width_of_file(spec: BackboneSpec, path: Path, alpha: float | None) -> float | None:
    """The alpha whose architecture has exactly the file's tensor shapes; ModelError if none."""
    file_shapes = weight_shapes_in_file(path)
    if alpha is not None:
        spec.alpha_or_default(alpha)  # validates it
    widths = list(spec.alphas) or [None]
    # Try the asked-for (or default) width first: the usual case costs one model build.
    first = alpha if alpha is not None else spec.default_alpha
    widths.sort(key=lambda a: a != first)
    file_count = sum(file_shapes.values())
    matching = None
    for width in widths:
        shapes = _architecture_shapes(spec.name, width)
        if len(shapes) != file_count:
            break  # the tensor count does not depend on the width: another architecture
        if Counter(shapes) == file_shapes:
            matching = width
            break
    if matching is not None and (alpha is None or matching == alpha):
        return matching
    if matching is not None:
        raise ModelError(f"{path.name} holds {spec.name} weights of width {matching}, not alpha {alpha}")
    any_width = f" at any width ({', '.join(str(a) for a in spec.alphas)})" if spec.alphas else ""
    raise ModelError(
        f"{path.name} does not hold {spec.name} weights without top{any_width}: its {file_count} "
        f"tensors do not match (weights for another backbone, or a file with the classification top?)"
    )


def weight_shapes_in_file(path: Path) -> Counter:
    """Multiset of the shapes of all weight tensors in a Keras HDF5 weights file."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise ModelError(f"{path.name} is not a Keras weights file (HDF5 .h5)") from None
    shapes: Counter = Counter()
    with handle:
        # Keras 3 `.weights.h5` keeps model variables under "layers" (and may hold optimizer
        # state elsewhere); the legacy format keeps one group per layer at the root.
        root = handle["layers"] if "layers" in handle else handle

        def visit(_name, obj):
            if isinstance(obj, h5py.Dataset) and obj.shape:
                shapes[tuple(int(d) for d in obj.shape)] += 1

        root.visititems(visit)
    if not shapes:
        raise ModelError(f"{path.name} holds no weight tensors")
    return shapes


@functools.lru_cache(maxsize=None)
def _architecture_shapes(name: str, alpha: float | None) -> tuple[tuple[int, ...], ...]:
    """Weight shapes of backbone `name` at width `alpha`, in the model's order."""
    spec = BACKBONES[name]
    # Weight shapes do not depend on the input size: build at the smallest one, it is quicker.
    model = _application(spec, alpha, spec.min_size, None)
    return tuple(tuple(int(d) for d in w.shape) for w in model.weights)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
