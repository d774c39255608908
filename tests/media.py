"""Small real media for tests, made with PyAV into a test's tmp_path.

    clip = make_clip(tmp_path / "a.mp4", width=320, height=240, fps=Fraction(24000, 1001), cut_at=12)
    assert probe(clip)["frames"] == 48

Clips are tiny (320x240, 2 s, x264 ultrafast) so a test makes one in ~0.1 s. Content: a flat
background with a few bright shapes that move every frame, so encoders see real motion and a
detector of scene cuts sees a change; `cut_at` switches background, palette and shapes at once.
Audio is a sine wave encoded with FFmpeg's native AAC encoder.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

# Two unrelated "scenes": (background BGR, shape colours BGR). After a cut every pixel differs.
_SCENES = (
    ((40, 30, 20), ((255, 255, 255), (60, 220, 255), (255, 120, 60))),
    ((200, 190, 230), ((20, 20, 20), (150, 40, 0), (0, 90, 30))),
)


def make_clip(
    path: str | os.PathLike,
    *,
    width: int = 320,
    height: int = 240,
    fps: Fraction | int = Fraction(24000, 1001),
    seconds: float = 2.0,
    audio: bool = True,
    sample_rate: int = 48000,
    channels: int = 2,
    audio_seconds: float | None = None,
    cut_at: int | None = None,
    codec: str = "libx264",
    pix_fmt: str | None = None,
) -> Path:
    """Write a clip of round(seconds * fps) frames and return its path.

    fps: exact rate (Fraction(24000, 1001) for 23.976, Fraction(30000, 1001), or an int).
    audio: a 440 Hz sine, AAC, `sample_rate` Hz, `channels` 1 or 2, lasting `audio_seconds`
        (default `seconds`; longer gives audio packets after the last video packet).
    cut_at: index of the first frame of a second, completely different scene (None: one scene).
    codec, pix_fmt: pix_fmt None means yuv420p, or yuv444p when width or height is odd (x264
        cannot encode 4:2:0 at odd sizes; "mpeg4" also accepts odd sizes in yuv420p).
        "mjpeg" (pix_fmt "yuvj420p") decodes without frame threading, so without delay.
    """
    path = Path(path)
    rate = Fraction(fps)
    n_frames = round(seconds * rate)
    if pix_fmt is None:
        pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.time_base = 1 / rate
        if codec == "libx264":
            video.options = {"preset": "ultrafast", "crf": "20"}
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=sample_rate, layout="stereo" if channels == 2 else "mono")
        audio_samples = round((seconds if audio_seconds is None else audio_seconds) * sample_rate)
        audio_done = 0
        for index in range(n_frames):
            frame = av.VideoFrame.from_ndarray(_picture(index, width, height, cut_at), format="bgr24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(video.encode(frame))
            # Keep audio roughly interleaved with the video so the file looks like a real one.
            if sound is not None:
                due = min(audio_samples, round((index + 1) / rate * sample_rate))
                while audio_done + 1024 <= due or (index == n_frames - 1 and audio_done < audio_samples):
                    count = min(1024, audio_samples - audio_done)
                    container.mux(sound.encode(_sine(audio_done, count, sample_rate, channels)))
                    audio_done += count
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return path


def _picture(index: int, width: int, height: int, cut_at: int | None) -> np.ndarray:
    """(H, W, 3) uint8 BGR: background plus three shapes moving with `index`."""
    scene = 1 if cut_at is not None and index >= cut_at else 0
    background, colours = _SCENES[scene]
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    size = max(4, min(width, height) // 5)
    phase = index * 0.15
    cx = int((0.5 + 0.35 * math.sin(phase)) * width)
    cy = int((0.5 + 0.35 * math.cos(phase * 0.7)) * height)
    if scene == 0:
        cv2.circle(image, (cx, cy), size // 2, colours[0], -1)
        cv2.rectangle(image, (index * 3 % width, height // 5), (index * 3 % width + size, height // 5 + size), colours[1], -1)
        cv2.line(image, (0, (index * 2) % height), (width - 1, height - 1 - (index * 2) % height), colours[2], 3)
    else:
        cv2.rectangle(image, (cx - size, cy - size // 2), (cx + size, cy + size // 2), colours[0], -1)
        pts = np.array([[width - 1 - index * 2 % width, 0], [width // 2, height - 1], [0, height // 3]], np.int32)
        cv2.fillPoly(image, [pts], colours[1])
        cv2.circle(image, (width // 4, height - 1 - (index * 4) % height), size // 3, colours[2], -1)
    return image


def _sine(start: int, count: int, sample_rate: int, channels: int) -> av.AudioFrame:
    t = (np.arange(start, start + count) / sample_rate).astype(np.float32)
    wave = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    planes = np.repeat(wave[None, :], channels, axis=0)
    frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout="stereo" if channels == 2 else "mono")
    frame.sample_rate = sample_rate
    frame.pts = start
    frame.time_base = Fraction(1, sample_rate)
    return frame


def make_audio_only(path: str | os.PathLike, *, seconds: float = 1.0, sample_rate: int = 48000) -> Path:
    """An .m4a-style MP4 with one AAC stream and no video (an input the video tools must refuse)."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as container:
        sound = container.add_stream("aac", rate=sample_rate, layout="stereo")
        total = round(seconds * sample_rate)
        for start in range(0, total, 1024):
            container.mux(sound.encode(_sine(start, min(1024, total - start), sample_rate, 2)))
        container.mux(sound.encode(None))
    return path


def remux(source: str | os.PathLike, target: str | os.PathLike, *, faststart: bool = False) -> Path:
    """Copy every video and audio packet into a new MP4 (faststart: index before the data, as
    web downloads have it, which is what lets a cut-off file still open)."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4", options=options) as out:
        streams = [s for s in src.streams if s.type in ("video", "audio")]
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}
        for packet in src.demux(*streams):
            if packet.dts is None:  # the flush packet at the end carries no data
                continue
            packet.stream = mapping[packet.stream_index]
            out.mux(packet)
    return Path(target)


def count_frames(path: str | os.PathLike) -> int:
    """Number of video frames that really decode (not what the container claims)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def probe(path: str | os.PathLike) -> dict:
    """Facts to assert outputs by, from a full decode of the video and the audio packet timestamps.

    Keys: width, height, frames (decoded), times (each decoded frame's time in s), fps (Fraction, the stream's average rate),
    pix_fmt, duration (s: last frame's time + one frame, minus the first frame's time),
    first_time (s), audio_streams (count), and for the first audio stream or None:
    audio_codec, sample_rate, channels, audio_duration (s, from packet timestamps).
    """
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        times = [float(frame.time) for frame in container.decode(video)]
        facts = {
            "times": times,
            "width": video.width,
            "height": video.height,
            "frames": len(times),
            "fps": video.average_rate,
            "pix_fmt": video.codec_context.pix_fmt,
            "first_time": min(times) if times else None,
            "duration": (max(times) - min(times) + float(1 / video.average_rate)) if times else 0.0,
            "audio_streams": len(container.streams.audio),
            "audio_codec": None,
            "sample_rate": None,
            "channels": None,
            "audio_duration": None,
        }
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            ends = []
            starts = []
            for packet in container.demux(audio):
                if packet.pts is None:
                    continue
                starts.append(float(packet.pts * packet.time_base))
                ends.append(float((packet.pts + (packet.duration or 0)) * packet.time_base))
            facts.update(
                audio_codec=audio.codec_context.name,
                sample_rate=audio.codec_context.sample_rate,
                channels=audio.codec_context.channels,
                audio_duration=(max(ends) - max(0.0, min(starts))) if ends else 0.0,
            )
    return facts


def make_still_clip(path: str | os.PathLike, picture_bgr: np.ndarray, *, width: int = 480, seconds: float = 1.0, fps: int = 24) -> Path:
    """A silent clip showing one picture (scaled to `width`, even size) for `seconds`."""
    import cv2

    height = round(picture_bgr.shape[0] * width / picture_bgr.shape[1]) // 2 * 2
    frame_bgr = cv2.resize(picture_bgr, (width, height), interpolation=cv2.INTER_AREA)
    path = Path(path)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "18"}
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path
