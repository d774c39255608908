"""Anime character recognition in video: the runtime (no TensorFlow here)."""

__version__ = "0.1.0"
