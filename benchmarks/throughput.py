"""Throughput benchmark: how fast is `annotate`, against the encode floor and the seeds' naive loop?

    .venv/bin/python benchmarks/throughput.py                 # everything, ~11 min on 2 cores
    .venv/bin/python benchmarks/throughput.py --quick         # smaller runs, ~3 min
    .venv/bin/python benchmarks/throughput.py --only main     # one section: main, long, faces, resolution

Sections (see docs/benchmarks.md for the figures and how to read them):
  main        1080p (sakurasou upscaled, audio kept): floor, naive, annotate; fps, real-time factor,
              ratios, peak RSS; then annotate's per-stage profile (`--profile`)
  long        a several-minute 480p input (the clip looped by stream copy): annotate's RSS sampled
              over the run, at 25/50/75/100 %
  faces       fps against 0/1/2/4/8 keima3 test faces pasted on a face-free 1080p background
  resolution  fps at 480p, 720p, 1080p and 4K (same content, upscaled)

Every contender runs in its own child process (`--contender NAME`), so each peak RSS is its own
and one contender's allocations never inflate another's. Inputs are built with PyAV on first use
and cached in --out (git-ignored). Results: a table on stdout, plus throughput.json,
throughput.md and throughput_scaling.png in --out; --update-docs also copies the plot to
docs/img/. Not part of the test suite: the figures depend on the machine; compare ratios within
one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make `benchmarks.*`, `tests.*`, `streamer` importable

from benchmarks import throughput_inputs as inputs  # noqa: E402

SERIAL_FLOOR = "floor-serial"  # the earlier floor: decode then encode, one thread
CONTENDERS = ("floor", "naive", "annotate")
# Not one of the three: the runtime's FileSource → Mp4Sink with no vision work, run in
# the main section to split annotate's distance to the floor into plumbing and vision.
IO = "io"
SECTIONS = ("main", "long", "faces", "resolution")
FACE_COUNTS = (0, 1, 2, 4, 8)
FACE_SIDE = 200  # px on the 1080p background; the cascade's 480-px copy sees 50 px faces
RESOLUTIONS = (("480p", 852, 480), ("720p", 1280, 720), ("1080p", 1920, 1080), ("4K", 3840, 2160))
FOUR_K_MAX_SECONDS = 3.0
RESULT_PREFIX = "THROUGHPUT-RESULT "
DOCS_IMG = REPO / "docs" / "img" / "throughput_scaling.png"
DEMO_MODEL = REPO / "demo-out" / "model" / "model.onnx"  # what `make demo` trains (MobileNet 0.25, keima3)
# Character names for the stand-in classifier, one per keima3 character.
STAND_IN_LABELS = {"nishikino_maki": (40, 40, 220), "sakurauchi_riko": (200, 120, 255), "takimoto_hifumi": (230, 140, 40)}


# -- one contender, in a child process -----------------------------------------------------------


class RssSampler:
    """Samples this process's resident set size every `interval` s in a daemon thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (perf_counter s, RSS bytes)
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, name="rss sampler", daemon=True)

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self.rss()))


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM from /proc/self/status)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (FFmpeg's and x264's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_contender(args: argparse.Namespace) -> int:
    from benchmarks import throughput_contenders as contenders

    encoder = contenders.EncoderOptions(args.preset, args.crf)
    input_path, output_path = Path(args.input), Path(args.output)
    baseline_rss = RssSampler().rss()
    with RssSampler() as sampler:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        if args.contender == "floor":
            result = contenders.run_floor_pipelined(input_path, output_path, encoder)
        elif args.contender == SERIAL_FLOOR:
            result = contenders.run_floor(input_path, output_path, encoder)
        elif args.contender == IO:
            result = contenders.run_io(input_path, output_path, encoder)
        elif args.contender == "naive":
            result = contenders.run_naive(input_path, output_path, encoder, Path(args.model), Path(args.cascade))
        else:
            result = contenders.run_annotate(input_path, output_path, encoder, Path(args.model))
        ended = time.perf_counter()
        cpu_used = cpu_seconds() - cpu_before
    # VmHWM: the true peak of this process, including moments between samples. (Not
    # getrusage's ru_maxrss: Linux carries the parent's high-water mark into a forked child.)
    peak = peak_rss()
    samples = [(t - started, rss) for t, rss in sampler.samples if started <= t <= ended + 1.0]
    out_frames = inputs.clip_info(output_path).frames
    payload = dict(asdict(result), peak_rss=peak, baseline_rss=baseline_rss, rss_samples=samples,
                   wall=ended - started, cpu_seconds=cpu_used, out_frames=out_frames)
    print(RESULT_PREFIX + json.dumps(payload), flush=True)
    return 0


# -- the parent: inputs, runs, tables -----------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    contender: str
    input: str
    frames: int
    seconds: float
    peak_rss: int
    out_frames: int
    faces: int
    stages: dict
    profile: str
    rss_samples: list
    source_fps: float
    cpu_seconds: float  # user + system, all threads: less sensitive to other load than wall time
    error: str = ""  # the child's last line of stderr when the contender failed (then frames == 0)
    # The whole child process, start-up and exit included (the same harness for every contender,
    # so differences are the contender's own start-up: imports, model loads).
    process_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per frame."""
        return 1000.0 * self.cpu_seconds / max(self.frames, 1)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def realtime(self) -> float:
        return self.fps / self.source_fps


class Runner:
    def __init__(self, args: argparse.Namespace, model: Path) -> None:
        self.args = args
        self.model = model
        self.scratch = Path(args.out) / "run"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.log: list[Measured] = []

    def run(self, contender: str, clip: inputs.ClipInfo) -> Measured:
        output = self.scratch / f"{contender}.mp4"
        command = [
            sys.executable, str(Path(__file__).resolve()), "--contender", contender,
            "--input", str(clip.path), "--output", str(output), "--model", str(self.model),
            "--cascade", str(self.args.cascade), "--preset", self.args.preset, "--crf", str(self.args.crf),
        ]
        process_started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        process_seconds = time.perf_counter() - process_started
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if done.returncode != 0 or not lines:
            # Report and go on: one broken contender must not cost the figures of all the others.
            error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            print(f"  {contender:<9} {clip.path.name:<32} FAILED (exit {done.returncode}): {error}", flush=True)
            failed = Measured(contender=contender, input=clip.path.name, frames=0, seconds=0.0, peak_rss=0,
                              out_frames=0, faces=0, stages={}, profile="", rss_samples=[],
                              source_fps=clip.frames / clip.seconds, cpu_seconds=0.0, error=error)
            self.log.append(failed)
            return failed
        data = json.loads(lines[-1][len(RESULT_PREFIX):])
        measured = Measured(
            contender=contender, input=clip.path.name, frames=data["frames"], seconds=data["seconds"],
            peak_rss=data["peak_rss"], out_frames=data["out_frames"], faces=data["faces"],
            stages=data["stages"], profile=data["profile"], rss_samples=data["rss_samples"],
            source_fps=clip.frames / clip.seconds, cpu_seconds=data["cpu_seconds"], process_seconds=process_seconds,
        )
        self.log.append(measured)
        print(f"  {contender:<9} {clip.path.name:<32} {measured.fps:6.1f} fps  "
              f"({measured.frames} frames, {measured.seconds:.1f} s, CPU {measured.cpu_ms:.0f} ms/frame, "
              f"peak RSS {mib(measured.peak_rss):.0f} MiB)",
              flush=True)
        return measured

    def repeated(self, contenders: tuple[str, ...], clip: inputs.ClipInfo, repeat: int) -> dict[str, list[Measured]]:
        """Run each contender `repeat` times in interleaved rounds, so load changes hit all alike.

        The naive loop runs once: it is slow enough that noise does not move its ratio.
        """
        runs: dict[str, list[Measured]] = {name: [] for name in contenders}
        for round_number in range(repeat):
            for name in contenders:
                if name == "naive" and round_number > 0:
                    continue
                runs[name].append(self.run(name, clip))
        return runs


def mib(size: float) -> float:
    return size / 2**20


def ratio(a: Measured, b: Measured, digits: int = 2) -> str:
    return "–" if a.failed or b.failed else f"{a.fps / b.fps:.{digits}f}"


def fps_text(m: Measured) -> str:
    return "failed" if m.failed else f"{m.fps:.1f}"


def failures(measured: list[Measured]) -> str:
    """Markdown lines naming each failed run and its error, or ""."""
    lines = [f"- {m.contender} on {m.input} failed: `{m.error}`" for m in measured if m.failed]
    return ("\nFailures:\n\n" + "\n".join(lines) + "\n") if lines else ""


def section_main(runner: Runner, clip: inputs.ClipInfo, report: list[str]) -> dict:
    repeat = runner.args.repeat
    print(f"\n== main: {clip.width}x{clip.height}, {clip.frames} frames ({clip.seconds:.1f} s), "
          f"best of {repeat} for all but naive ==", flush=True)
    order = ("floor", SERIAL_FLOOR, IO, "annotate", "naive")
    runs = runner.repeated(order, clip, repeat)
    # Best of the repeats: on a shared machine noise only ever slows a run down.
    best = {name: max(measured, key=lambda m: m.fps) for name, measured in runs.items()}
    # Whole processes: the fastest of each contender's runs (start-up is what a short clip shows).
    process = {name: min((m.process_seconds for m in measured if not m.failed), default=0.0) for name, measured in runs.items()}
    rows = []
    for name in ("floor", SERIAL_FLOOR, "naive", "annotate", IO):
        m = best[name]
        label = {IO: f"{name} (extra: FileSource → Mp4Sink, no vision)", "floor": "floor (pipelined: decode ‖ encode)",
                 SERIAL_FLOOR: f"{name} (one thread)"}.get(name, name)
        every = ", ".join(fps_text(r) for r in runs[name])
        if m.failed:
            rows.append([label, "failed", every] + ["–"] * 9)
            continue
        rows.append([label, f"{m.fps:.1f}", every, f"{m.realtime:.2f}x", ratio(m, best["floor"]), ratio(m, best["naive"], 1),
                     f"{m.cpu_ms:.0f}", "–" if best["floor"].failed else f"{m.cpu_ms / best['floor'].cpu_ms:.2f}",
                     f"{mib(m.peak_rss):.0f}", f"{m.frames}/{m.out_frames}",
                     f"{process[name]:.2f}", "–" if not process["floor"] else f"{process['floor'] / process[name]:.2f}"])
    headers = ["contender", "fps", "all runs", "real-time", "vs floor", "vs naive", "CPU ms/frame", "CPU vs floor",
               "peak RSS MiB", "frames in/out", "whole process s", "process vs floor"]
    table = markdown_table(headers, rows)
    profile = best["annotate"].profile
    text = (f"### 1080p: floor, naive, annotate\n\nInput: {clip.path.name}, {clip.width}x{clip.height}, "
            f"{clip.frames} frames ({clip.seconds:.1f} s); x264 {runner.args.preset} crf {runner.args.crf}, "
            f"audio copied. Best of {repeat} interleaved runs (naive: one run).\n\n{table}\n\n"
            f"annotate --profile (its best run):\n\n```\n{profile}\n```\n"
            f"{failures([m for measured in runs.values() for m in measured])}")
    print("\n" + text, flush=True)
    report.append(text)
    return {name: {"fps": best[name].fps, "runs": [r.fps for r in runs[name]], "peak_rss_mib": mib(best[name].peak_rss),
                   "cpu_ms_per_frame": best[name].cpu_ms,
                   "stages_s": best[name].stages, "frames": best[name].frames}
            for name in order}


def section_long(runner: Runner, clip: inputs.ClipInfo, report: list[str]) -> dict:
    """annotate's RSS over a long input, beside the floor's on the same file: the MP4 muxer keeps
    an index entry per packet until the end, so some growth is the output format's, not ours."""
    print(f"\n== long: {clip.width}x{clip.height}, {clip.frames} frames ({clip.seconds:.0f} s) ==", flush=True)
    measured = {name: runner.run(name, clip) for name in ("floor", "annotate")}
    if measured["annotate"].failed:
        error = measured["annotate"].error
        report.append(f"### Memory on a long input\n\nannotate failed on {clip.path.name}: `{error}`\n")
        return {"error": error}
    marks = {name: _rss_marks(m.rss_samples) for name, m in measured.items() if not m.failed}
    rows = []
    for index, percent in enumerate((25, 50, 75, 100)):
        row = [f"{percent}%"]
        for name in marks:
            _, now, peak = marks[name][index]
            row += [f"{mib(now):.0f}", f"{mib(peak):.0f}"]
        rows.append(row)
    headers = ["point in run"] + [f"{name} {what}" for name in marks for what in ("RSS MiB", "peak so far MiB")]
    table = markdown_table(headers, rows)
    growth = {name: mib(m[-1][2] - m[0][2]) for name, m in marks.items()}
    annotate = measured["annotate"]
    text = (f"### Memory on a long input\n\nInput: {clip.path.name}, {clip.width}x{clip.height}, {clip.frames} frames "
            f"({clip.seconds / 60:.1f} min), annotate at {annotate.fps:.1f} fps; RSS sampled every 0.1 s.\n\n{table}\n\n"
            "Peak growth from the first quarter to the end: "
            + ", ".join(f"{name} {value:+.1f} MiB" for name, value in growth.items())
            + f" (annotate's process peak {mib(annotate.peak_rss):.0f} MiB).\n")
    print("\n" + text, flush=True)
    report.append(text)
    return {"fps": annotate.fps, "peak_rss_mib": mib(annotate.peak_rss),
            "marks_mib": {name: [(p, mib(now), mib(peak)) for p, now, peak in m] for name, m in marks.items()}}


def _rss_marks(samples: list) -> list[tuple[int, int, int]]:
    """(percent, RSS then, peak until then) at a quarter, half, three quarters and the end of a run."""
    span = samples[-1][0] if samples else 0.0
    marks = []
    for percent in (25, 50, 75, 100):
        until = span * percent / 100
        upto = [rss for t, rss in samples if t <= until] or [samples[0][1] if samples else 0]
        marks.append((percent, upto[-1], max(upto)))
    return marks


def section_scaling(
    runner: Runner, title: str, label: str, clips: list[tuple[str, inputs.ClipInfo]], contenders: tuple[str, ...],
    report: list[str],
) -> dict:
    repeat = runner.args.repeat
    print(f"\n== {title}, best of {repeat} for all but naive ==", flush=True)
    results: dict[str, dict[str, Measured]] = {}
    for key, clip in clips:
        runs = runner.repeated(contenders, clip, repeat)
        results[key] = {name: max(measured, key=lambda m: m.fps) for name, measured in runs.items()}
    naive = "naive" in contenders
    headers = [label, "size", "frames", *(f"{name} fps" for name in contenders), "annotate / floor"]
    headers += ["annotate / naive", "faces found per frame (naive)"] if naive else []
    headers.append("CPU ms/frame: " + ", ".join(contenders))
    rows = []
    for key, clip in clips:
        r = results[key]
        row = [key, f"{clip.width}x{clip.height}", str(clip.frames), *(fps_text(r[n]) for n in contenders)]
        row.append(ratio(r["annotate"], r["floor"]))
        if naive:
            found = "–" if r["naive"].failed else f"{r['naive'].faces / max(r['naive'].frames, 1):.2f}"
            row += [ratio(r["annotate"], r["naive"], 1), found]
        row.append(", ".join("–" if r[n].failed else f"{r[n].cpu_ms:.0f}" for n in contenders))
        rows.append(row)
    table = markdown_table(headers, rows)
    stages = stage_table(label, [(key, results[key]["annotate"]) for key, _ in clips])
    text = (f"### {title}\n\nBest of {repeat} interleaved runs (naive: one run).\n\n{table}\n\n"
            f"annotate's stages, ms per frame (--profile):\n\n{stages}\n"
            f"{failures([m for r in results.values() for m in r.values()])}")
    print("\n" + text, flush=True)
    report.append(text)
    return {key: {name: ({"error": m.error} if m.failed else {"fps": m.fps, "cpu_ms": m.cpu_ms}) for name, m in r.items()}
            for key, r in results.items()}


def stage_table(label: str, runs: list[tuple[str, Measured]]) -> str:
    """Milliseconds per frame of each annotate stage, one row per run: what grows with the load."""
    names = sorted({stage for _, m in runs for stage in m.stages}, key=lambda n: -max(m.stages.get(n, 0) for _, m in runs))
    rows = []
    for key, m in runs:
        if m.failed:
            rows.append([key, *(["failed"] + ["–"] * len(names))])
            continue
        per_frame = [f"{1000 * m.stages.get(n, 0.0) / max(m.frames, 1):.2f}" for n in names]
        rows.append([key, *per_frame, f"{1000 * m.seconds / max(m.frames, 1):.2f}"])
    return markdown_table([label, *names, "wall"], rows)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def plot(faces: dict | None, resolution: dict | None, path: Path) -> Path | None:
    """Two columns (faces, resolution), two rows: fps, and CPU ms per frame (robust to other load)."""
    if not faces and not resolution:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    columns = [(data, name) for data, name in ((faces, "faces"), (resolution, "resolution")) if data]
    figure, axes = plt.subplots(2, len(columns), figsize=(5.5 * len(columns), 7.5), squeeze=False)
    styles = {"floor": ("tab:gray", "s", "floor (decode + encode)"), "annotate": ("tab:blue", "o", "annotate"),
              "naive": ("tab:red", "^", "naive (seeds' loop)")}
    realtime_fps = 24000 / 1001
    rows = (("fps", "frames per second", realtime_fps, "real time (23.976 fps)"),
            ("cpu_ms", "CPU ms per frame (all threads)", 2 * 1000 / realtime_fps, "2 cores' real-time budget"))
    for column, (data, name) in enumerate(columns):
        keys = list(data)
        positions = list(range(len(keys)))
        for row, (metric, ylabel, reference, reference_label) in enumerate(rows):
            axis = axes[row][column]
            values_all = [v[metric] for k in keys for v in data[k].values() if metric in v] + [reference]
            for contender, (colour, marker, legend) in styles.items():
                if all(contender in data[k] for k in keys):
                    # A failed run is a gap in its line (NaN), not a zero.
                    values = [data[k][contender].get(metric, float("nan")) for k in keys]
                    axis.plot(positions, values, marker=marker, color=colour, label=legend)
            axis.axhline(reference, color="black", linestyle=":", linewidth=1, label=reference_label)
            _log_axis(axis, min(values_all), max(values_all), matplotlib.ticker)
            axis.set_xticks(positions, keys)
            axis.set_ylabel(f"{ylabel} (log scale)")
            axis.set_xlabel("faces on screen (1080p)" if name == "faces" else "resolution")
            axis.set_title(f"{ylabel.split(' (')[0]} vs {'faces on screen' if name == 'faces' else 'resolution'}")
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _log_axis(axis, lowest: float, highest: float, ticker) -> None:
    """Log scale with plain-number ticks (1, 2, 5, 10, ...) over the data's range."""
    axis.set_yscale("log")
    axis.set_ylim(lowest / 1.3, highest * 1.3)
    axis.yaxis.set_major_formatter(ticker.ScalarFormatter())
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    candidates = [m * 10**e for e in range(-1, 5) for m in (1, 2, 3, 5, 7)]
    axis.set_yticks([t for t in candidates if lowest / 1.3 <= t <= highest * 1.3])


def stand_in_model(out: Path) -> Path:
    """A 3-character colour classifier built with the onnx helper API (tests/onnx_models.py)."""
    from tests.onnx_models import make_color_classifier

    path = out / "stand_in_classifier.onnx"
    if not path.exists():
        make_color_classifier(path, labels=tuple(STAND_IN_LABELS), colors=STAND_IN_LABELS)
    return path


def choose_model(args: argparse.Namespace, out: Path) -> tuple[Path, str]:
    if args.model:
        return Path(args.model), f"{args.model} (given)"
    # A real exported classifier when there is one: models/, then the one `make demo` trains.
    classifiers = [p for p in sorted((REPO / "models").glob("*.onnx")) if p.name != "face_detector.onnx"]
    exported = classifiers + [p for p in (DEMO_MODEL,) if p.is_file()]
    if exported:
        return exported[0], f"{exported[0].relative_to(REPO)} (exported classifier)"
    return stand_in_model(out), ("stand-in colour classifier (tests/onnx_models.make_color_classifier: "
                                 "ReduceMean + MatMul + Softmax, 3 labels, 96x96 input)")


def build_inputs(args: argparse.Namespace, out: Path, sections: set[str]) -> dict:
    """Build (or reuse) every input the chosen sections need; report what was built."""
    started = time.perf_counter()
    built: dict = {}
    main_seconds = args.seconds
    tag = f"_{main_seconds:g}s" if main_seconds else ""
    if "main" in sections:
        path = inputs.upscaled(inputs.SAKURASOU, out / f"sakurasou_1920x1080{tag}.mp4", 1920, 1080, main_seconds)
        built["main"] = inputs.clip_info(path)
    if "long" in sections:
        path = inputs.looped(inputs.SAKURASOU, out / f"sakurasou_852x480_loop{args.long_seconds:g}s.mp4", args.long_seconds)
        built["long"] = inputs.clip_info(path)
    scale = args.scale_seconds
    if "faces" in sections:
        background = inputs.upscaled(inputs.ONEPIECE, out / f"onepiece_1920x1080_{scale:g}s.mp4", 1920, 1080, scale)
        clips = []
        for count in FACE_COUNTS:
            path = inputs.with_faces(background, out / f"faces{count}_1920x1080_{scale:g}s.mp4",
                                     inputs.face_stamps(count, FACE_SIDE))
            clips.append((str(count), inputs.clip_info(path)))
        built["faces"] = clips
    if "resolution" in sections:
        clips = []
        for name, width, height in RESOLUTIONS:
            seconds = min(scale, FOUR_K_MAX_SECONDS) if name == "4K" else scale
            path = inputs.upscaled(inputs.SAKURASOU, out / f"sakurasou_{width}x{height}_{seconds:g}s.mp4",
                                   width, height, seconds)
            clips.append((name, inputs.clip_info(path)))
        built["resolution"] = clips
    print(f"inputs ready in {time.perf_counter() - started:.0f} s (cached in {out})", flush=True)
    return built


def run_benchmark(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = sections - set(SECTIONS)
    if unknown:
        raise SystemExit(f"throughput: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    model, model_text = choose_model(args, out)
    started = time.perf_counter()
    load = os.getloadavg()
    print(f"throughput benchmark: {os.cpu_count()} CPUs, load average {load[0]:.1f} at start; classifier: {model_text}",
          flush=True)
    clips = build_inputs(args, out, sections)
    runner = Runner(args, model)
    report = [f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} at start. Classifier: {model_text}. "
              f"Command: `{' '.join([Path(sys.executable).name, 'benchmarks/throughput.py', *sys.argv[1:]])}`.\n"]
    results: dict = {"model": model_text, "load_at_start": load[0]}
    if "main" in sections:
        results["main"] = section_main(runner, clips["main"], report)
    if "long" in sections:
        results["long"] = section_long(runner, clips["long"], report)
    scaling_contenders = ("floor", "annotate") if args.quick else CONTENDERS
    if "faces" in sections:
        results["faces"] = section_scaling(runner, "fps against faces on screen (1080p)", "faces",
                                           clips["faces"], scaling_contenders, report)
    if "resolution" in sections:
        results["resolution"] = section_scaling(runner, "fps against resolution", "resolution",
                                                clips["resolution"], scaling_contenders, report)
    png = plot(results.get("faces"), results.get("resolution"), out / "throughput_scaling.png")
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()[0]
    report.append(f"Total {elapsed / 60:.1f} min, load average {load_end:.1f} at the end.\n")
    (out / "throughput.md").write_text("\n".join(report))
    (out / "throughput.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'throughput.md'}, {out / 'throughput.json'}" + (f", {png}" if png else ""))
    if png and args.update_docs:
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, DOCS_IMG)
        print(f"copied the plot to {DOCS_IMG.relative_to(REPO)}")
    print(f"total {elapsed / 60:.1f} min (load average now {load_end:.1f})")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="cache and results folder")
    parser.add_argument("--seconds", type=float, default=None,
                        help="main section: use the first S seconds of the 19 s clip (default: all of it)")
    parser.add_argument("--long-seconds", type=float, default=240.0, help="length of the long input (default 240)")
    parser.add_argument("--scale-seconds", type=float, default=5.0,
                        help="length of each faces/resolution clip (default 5; 4K at most 3)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of floor and annotate in main; the best counts")
    parser.add_argument("--quick", action="store_true",
                        help="--seconds 8 --long-seconds 90 --scale-seconds 3 --repeat 1, no naive in the scaling runs")
    parser.add_argument("--only", help=f"comma-separated sections to run ({','.join(SECTIONS)})")
    parser.add_argument("--model", help="classifier ONNX (default: models/*.onnx but the face detector, else demo-out/model/model.onnx from "
                        "`make demo`, else a stand-in colour classifier)")
    parser.add_argument("--cascade", default=str(inputs.CASCADE), help="anime-face cascade XML")
    parser.add_argument("--preset", default="veryfast", help="x264 preset for every contender (default veryfast)")
    parser.add_argument("--crf", type=int, default=23, help="x264 crf for every contender (default 23)")
    parser.add_argument("--update-docs", action="store_true", help=f"copy the plot to {DOCS_IMG.relative_to(REPO)}")
    # The child-process mode: one contender, one input, result as a JSON line on stdout.
    parser.add_argument("--contender", choices=(*CONTENDERS, IO, SERIAL_FLOOR), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = args.seconds or 8.0
        args.long_seconds = 90.0 if args.long_seconds == 240.0 else args.long_seconds
        args.scale_seconds = 3.0 if args.scale_seconds == 5.0 else args.scale_seconds
        args.repeat = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.contender:
        return run_contender(args)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
