"""Screen grabbing child process: FFmpeg's x11grab, raw YUV 4:2:0 frames on stdout.

Why a separate process: opencv-python and PyAV each bundle their own build of libxcb-shm,
libxcb-shape and libxcb-xfixes under the *same* file names. Whichever package is imported
first provides them to the other, linked against its own libxcb: with cv2 first, x11grab
crashes (segmentation fault) at open; with av first, OpenCV's window hangs. A process that
never imports cv2 grabs safely, so `streamer.capture.ScreenSource` runs this file as a script
(never as part of the `streamer` package, whose modules import cv2).

    python screengrab.py --display :0 --fps 30 [--region X,Y,W,H] [--hide-mouse]

Protocol on stdout: one line "OK <width> <height>\\n", then frames back to back, each exactly
width * height * 3 / 2 bytes of I420 (Y plane, then U, then V). Width and height are even
(a whole screen of odd size is cut by one pixel). On failure: one line "ERROR <message>" on
stderr and exit status 2 (cannot open) or 3 (grabbing failed). Ends quietly when the reader
closes the pipe.
"""

from __future__ import annotations

import argparse
import sys

import av  # only av: see the module doc


def _open(display: str, options: dict[str, str]):
    return av.open(display, format="x11grab", options=dict(options), timeout=5.0)


def _fail(status: int, message: str) -> int:
    print(f"ERROR {message}", file=sys.stderr, flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--display", required=True)
    parser.add_argument("--fps", default="30", help="frame rate as FFmpeg reads it (30, 30000/1001)")
    parser.add_argument("--region", help="X,Y,W,H in screen pixels (default: the whole screen)")
    parser.add_argument("--hide-mouse", action="store_true")
    args = parser.parse_args(argv)
    x = y = width = height = 0
    if "x11grab" not in av.formats_available:
        return _fail(2, "this PyAV build has no x11grab (screen capture)")
    try:
        if args.region:
            x, y, width, height = (int(v) for v in args.region.split(","))
        else:
            # The whole screen: its size comes from a first, short-lived grab.
            probe = _open(args.display, {"framerate": "1"})
            context = probe.streams.video[0].codec_context
            x, y, width, height = 0, 0, context.width, context.height
            probe.close()
        width, height = width - width % 2, height - height % 2
        container = _open(
            args.display,
            {
                "framerate": args.fps,
                "video_size": f"{width}x{height}",
                "grab_x": str(x),
                "grab_y": str(y),
                "draw_mouse": "0" if args.hide_mouse else "1",
            },
        )
    except av.error.ArgumentError:
        return _fail(2, f"cannot capture {width}x{height} at {x},{y} on display {args.display}: outside the screen")
    except (av.error.FFmpegError, OSError):
        return _fail(2, f"cannot open X display {args.display!r} for screen capture: no X server there, or no permission (xhost/xauth)")

    out = sys.stdout.buffer
    try:
        out.write(f"OK {width} {height}\n".encode())
        out.flush()
        for packet in container.demux(container.streams.video[0]):
            for picture in packet.decode():
                out.write(picture.to_ndarray(format="yuv420p").data)
                out.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        # The reader is gone; keep Python from complaining about flushing stdout at exit.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except (av.error.FFmpegError, OSError) as exc:
        return _fail(3, f"screen capture of {args.display} stopped: {exc}")
    finally:
        container.close()
    return _fail(3, f"screen capture of {args.display} ended")


if __name__ == "__main__":
    raise SystemExit(main())
