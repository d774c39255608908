"""`streamer enroll MODEL.onnx DIR -o GALLERY.json`: new characters for an open-set model,
without retraining. The work is in `streamer.enroll`; the file format in `streamer.gallery`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "enroll",
        help="add characters to a model without retraining: DIR/<character>/ images → a gallery",
        description="Embed the faces in DIR/<character>/ with an open-set model (from `streamer train` + "
        "`export`) and write a gallery: `annotate`, `live` and `evaluate` with --gallery then name those "
        "characters like the trained ones, with the same `unknown` rule. Images up to 128 px on each side are taken "
        "as ready-made face crops when square-ish; other pictures as illustrations, whose largest face is found and cut as "
        "`prepare` does. Takes seconds.",
    )
    parser.add_argument("model", metavar="MODEL.onnx", help="open-set classifier exported by `streamer export`")
    parser.add_argument("folder", metavar="DIR", help="one sub-folder of images per character, named after it")
    parser.add_argument("-o", "--output", required=True, metavar="GALLERY.json", help="gallery file to write")
    parser.add_argument("--detector", metavar="cascade|PATH.onnx",
                        help="face detector for illustrations (default: the shipped learned one, as `prepare` uses)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite GALLERY if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.atomic import AtomicPath, check_output_path
    from streamer.enroll import enroll
    from streamer.image_files import character_folders, list_images
    from streamer.progress import progress_bar

    output = Path(args.output)
    check_output_path(output, inputs=[args.model], force=args.force)
    total = sum(len(list_images(folder)[0]) for folder in character_folders(Path(args.folder)))
    with progress_bar(total, enabled=False if args.quiet else None, unit="image") as progress:
        result = enroll(args.model, args.folder, detector=args.detector, on_image=progress.update)
    with AtomicPath(output) as temporary:
        temporary.write_text(result.gallery.to_json(), encoding="utf-8")
    if not args.quiet:
        faces = ", ".join(f"{name} {count}" for name, count in result.faces.items())
        print(f"wrote {output} in {result.seconds:.1f} s: {faces} faces", file=sys.stderr)
        for name, paths in result.without_face.items():
            print(f"  {name}: no face found in {len(paths)} image(s): {', '.join(p.name for p in paths[:5])}", file=sys.stderr)
        for name in result.also_trained:
            print(f"  note: {name} is one of the model's trained characters; its enrolled faces add a prototype", file=sys.stderr)
    return 0
