"""`streamer annotate INPUT... -o OUTPUT --model CLASSIFIER.onnx`: label a video, images, or a season."""

from __future__ import annotations

import argparse
import sys

from streamer.commands.options import add_encoder_options, add_recognition_options, loop_settings


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "annotate",
        help="label the characters in a video file, images, or a whole season (MP4 out, audio kept, sidecar)",
        description="Detect, track and name anime characters in a video file. Writes an H.264 MP4 with "
        "the same size, frame rate, timestamps and audio as the input, and optionally a sidecar record "
        "of who appears where and when. Several videos (or a folder of them, or a glob) are a season: "
        "OUTPUT is a folder that gets every episode's MP4 and sidecar, a season summary (season.csv, "
        ".json, .png) and a manifest, so a rerun skips the episodes already done.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video file(s), a folder or glob of videos (a season), an image file, or a folder of images")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="labelled MP4 for a video; a folder for a season; an image file for an image; a folder "
                        "for a folder of images")
    add_recognition_options(parser)
    parser.add_argument("--sidecar", metavar="PATH", help="write per-frame records to PATH (.jsonl or .csv)")
    parser.add_argument("--report", action="store_true",
                        help="also write an HTML review page beside the output (OUTPUT's name with .html; "
                        "the sidecar defaults to OUTPUT's name with .jsonl); see `streamer report`")
    add_encoder_options(parser)
    parser.add_argument("--strict", action="store_true",
                        help="refuse a video with a stretch that does not decode (default: skip it, warn, and list it in the sidecar)")
    parser.add_argument("-w", "--workers", type=int, default=1, metavar="N",
                        help="season: annotate N episodes at once, in N processes sharing the cores (default 1)")
    parser.add_argument("--ray", metavar="ADDRESS|local",
                        help="season: run the episodes as Ray tasks on the cluster at ADDRESS (host:port of its head), "
                        "or on a Ray instance started here and bound to 127.0.0.1 (local); needs the cluster extra")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite existing outputs; season: redo every episode")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--profile", action="store_true", help="print where the time went, per stage")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.annotate_images import is_image_input
    from streamer.errors import UsageError
    from streamer.season import is_season_input

    if is_season_input(args.inputs):
        if args.profile:
            raise UsageError("--profile is for one video; profile an episode on its own")
        return _run_season(args)
    if args.workers != 1 or args.ray is not None:
        raise UsageError("--workers and --ray are for several episodes (a season); give more than one video")
    args.input = args.inputs[0]
    if is_image_input(args.input):
        # Said, not ignored: a user who asked for a report or a profile would wait for one.
        for flag, given in (("--report", args.report), ("--profile", args.profile)):
            if given:
                raise UsageError(f"{flag} is for videos; {args.input} is an image input")
        return _run_images(args)
    from streamer.annotate import EncoderSettings, annotate, print_profile
    from streamer.commands.runtime import quick_thread_handoff

    report = None
    if args.report:
        from pathlib import Path

        from streamer.atomic import check_output_path

        report = check_output_path(Path(args.output).with_suffix(".html"), [args.input], force=args.force)
        if args.sidecar is None:
            args.sidecar = str(Path(args.output).with_suffix(".jsonl"))
    with quick_thread_handoff():  # decoder, encoder and loop threads take turns
        result = annotate(
            args.input,
            args.output,
            args.model,
            detector=args.detector,
            cascade_path=args.cascade,
            sidecar_path=args.sidecar,
            settings=loop_settings(args),
            encoder=EncoderSettings(preset=args.preset, crf=args.crf),
            force=args.force,
            progress=False if args.quiet else None,
            profile=args.profile,
            warn=lambda text: print(f"streamer: {text}", file=sys.stderr),
            strict=args.strict,
        )
    if result.damaged:
        from streamer.sources import describe_damage

        # Exit 0: the output is complete apart from what could not be decoded (see README).
        print(f"streamer: warning: {args.input} is damaged: skipped what did not decode at "
              f"{describe_damage(result.damaged)}; the output lacks those frames", file=sys.stderr)
    if not args.quiet:
        extra = f", sidecar {result.sidecar}" if result.sidecar else ""
        print(f"wrote {result.output} ({result.frames} frames, {result.fps:.1f} fps{extra})", file=sys.stderr)
    if report is not None:
        from streamer.report import write_report

        written = write_report([result.sidecar], report, video=result.output, force=args.force,
                               warn=lambda text: print(f"streamer: warning: {text}", file=sys.stderr))
        if not args.quiet:
            print(f"wrote {report} ({written.tracks} tracks)", file=sys.stderr)
    if args.profile:
        print_profile(result)
    return 0


def _run_season(args: argparse.Namespace) -> int:
    from streamer.annotate import EncoderSettings
    from streamer.commands.runtime import quick_thread_handoff
    from streamer.errors import InputError, UsageError
    from streamer.season import annotate_season

    if args.sidecar is not None:
        raise UsageError("--sidecar names one file; a season writes each episode's sidecar in OUTPUT (<name>.jsonl)")
    with quick_thread_handoff():
        result = annotate_season(
            args.inputs, args.output, args.model, detector=args.detector, cascade_path=args.cascade,
            settings=loop_settings(args), encoder=EncoderSettings(preset=args.preset, crf=args.crf),
            strict=args.strict, workers=args.workers, report=args.report, force=args.force,
            progress=False if args.quiet else None,
            warn=lambda text: print(f"streamer: {text}", file=sys.stderr),
            ray=args.ray,
        )
    for name, reason in result.failed:
        print(f"streamer: episode {name} failed: {reason}", file=sys.stderr)
    if not args.quiet:
        print(f"season in {result.folder}: {len(result.done)} annotated, {len(result.skipped)} already done, "
              f"{len(result.failed)} failed ({result.seconds:.1f} s); summary {', '.join(p.name for p in result.summary)}",
              file=sys.stderr)
    if result.failed:
        print(f"streamer: error: {len(result.failed)} of {len(result.failed) + len(result.done) + len(result.skipped)} "
              "episode(s) failed (listed above); rerun to retry them", file=sys.stderr)
        return InputError.exit_code
    return 0


def _run_images(args: argparse.Namespace) -> int:
    from streamer.annotate_images import annotate_images
    from streamer.errors import InputError

    result = annotate_images(
        args.input, args.output, args.model, detector=args.detector, cascade_path=args.cascade,
        sidecar_path=args.sidecar, settings=loop_settings(args), force=args.force,
        progress=False if args.quiet else None,
        warn=lambda text: print(f"streamer: {text}", file=sys.stderr),
    )
    if not args.quiet:
        extra = f", sidecar {result.sidecar}" if result.sidecar else ""
        print(f"wrote {result.images} labelled image(s) to {args.output} ({result.faces} faces{extra})", file=sys.stderr)
    if result.failed:
        for file, reason in result.failed:
            print(f"streamer: skipped {file}: {reason}", file=sys.stderr)
        print(f"streamer: error: {len(result.failed)} of {len(result.failed) + result.images} file(s) could not be "
              "annotated (listed above)", file=sys.stderr)
        return InputError.exit_code
    return 0
