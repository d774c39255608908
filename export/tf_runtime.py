"""Importing TensorFlow quietly and configuring it once, for every training-side command.

TensorFlow prints several lines of C++ logging at import (oneDNN notices, "Could not find cuda
drivers") that TF_CPP_MIN_LOG_LEVEL does not silence because they are written before its
logging is initialised. A user of `streamer train` should see our progress and errors, not
those: the import runs with file descriptor 2 pointed at a temporary file, which is replayed
only if the import fails.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from types import ModuleType

_configured = False


def import_tensorflow() -> ModuleType:
    """`tensorflow`, imported without its start-up chatter, CPU-only, logging errors only."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Training here runs on the CPU; hiding CUDA skips a slow probe and its messages.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    tf = _import_with_quiet_stderr()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    for module in ("keras", "tf2onnx", "tensorflow"):
        warnings.filterwarnings("ignore", module=module)
    return tf


def configure(threads: int | None = None, seed: int | None = None) -> None:
    """Threads (None: all cores) and seeds. Thread counts only take effect before TensorFlow's
    first operation in the process; later calls keep what is set."""
    tf = import_tensorflow()
    global _configured
    if not _configured:
        _configured = True
        count = threads or os.cpu_count() or 1
        try:
            tf.config.threading.set_intra_op_parallelism_threads(count)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, count))
        except RuntimeError:
            pass  # TensorFlow already ran an op in this process: its settings stay
    if seed is not None:
        set_seed(seed)


def _import_with_quiet_stderr() -> ModuleType:
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF's kernels deterministic."""
    import keras

    tf = import_tensorflow()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):
        pass
