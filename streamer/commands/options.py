"""Options shared by the commands that run the recognition loop (`annotate`, `live`)."""

from __future__ import annotations

import argparse

from streamer.detectors import DEFAULT_DETECT_WIDTH
from streamer.pipeline import DEFAULT_DETECT_EVERY, DEFAULT_THRESHOLD, LoopSettings

# The flag each library setting comes from, for errors (streamer.errors.SettingError).
SETTING_FLAGS = {
    "model": "-m/--model",
    "sidecars": "SIDECAR",
    "inputs": "INPUT",
    "ray": "--ray",
    "detect_every": "--detect-every",
    "detect_width": "--detect-width",
    "threshold": "--threshold",
    "galleries": "--gallery",
    "max_frames": "--max-frames",
    "duration": "--duration",
    "stats_every": "--stats-every",
    "capture_fps": "--fps",
    "open_timeout": "--open-timeout",
    "read_timeout": "--read-timeout",
    "reconnect_for": "--reconnect-for",
}

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


def add_recognition_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("-m", "--model", metavar="CLASSIFIER.onnx",
                        help="character classifier exported by `streamer export` (default: none, faces only, no names)")
    parser.add_argument("--detector", metavar="cascade|PATH.onnx",
                        help="face detector: the shipped learned one (default, models/face_detector.onnx), "
                        "cascade (the LBP cascade), or a face-detector ONNX file from `streamer export`")
    parser.add_argument("--cascade", metavar="XML",
                        help="the cascade file; implies --detector cascade (default: found via STREAMER_ASSETS, the cache, or downloaded)")
    parser.add_argument("--detect-every", type=int, default=DEFAULT_DETECT_EVERY, metavar="N",
                        help=f"run the face detector every N frames, track in between (default {DEFAULT_DETECT_EVERY})")
    parser.add_argument("--detect-width", type=int, default=DEFAULT_DETECT_WIDTH, metavar="PX",
                        help=f"width of the downscaled copy the detector sees (default {DEFAULT_DETECT_WIDTH}; 0 = full size)")
    parser.add_argument("--gallery", action="append", default=[], metavar="GALLERY.json",
                        help="characters enrolled with `streamer enroll` for this model, named like trained ones (repeatable)")
    parser.add_argument("--threshold", type=float, default=None, metavar="S",
                        help="label a face 'unknown' when its best score stays below S (default: the threshold the model "
                        f"was calibrated with by `train`; {DEFAULT_THRESHOLD} for closed-set models)")


def add_encoder_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str = "the output") -> None:
    # Checked here: x264 itself only reports a bad preset once the output is being opened, as a
    # vague "Invalid argument", and clamps a crf out of range without a word.
    parser.add_argument("--preset", default="veryfast", choices=X264_PRESETS, metavar="PRESET",
                        help=f"x264 preset for {what}: {', '.join(X264_PRESETS)} (default veryfast)")
    parser.add_argument("--crf", type=_crf, default=23,
                        help=f"x264 quality for {what}, 0-51, lower is better (default 23)")


def _crf(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 51, got {text!r}")
    return value


def loop_settings(args: argparse.Namespace) -> LoopSettings:
    return LoopSettings(
        detect_every=args.detect_every, detect_width=args.detect_width, threshold=args.threshold,
        galleries=tuple(args.gallery),
    )


def flag_name(setting: str) -> str:
    """The command-line flag of a library setting ("detect_every" → "--detect-every")."""
    return SETTING_FLAGS.get(setting, "--" + setting.replace("_", "-"))
