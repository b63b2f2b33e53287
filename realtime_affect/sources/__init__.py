"""Frame sources: video files and network streams (PyAV, decoded ahead in a thread), cameras, images.

Every source yields ``Frame`` objects with time taken from the stream (PTS), never from frame counts.
Unusable input raises ``SourceError`` with a one-line message when the source is opened; a stream
that breaks part way ends cleanly with ``truncated`` set, after every frame read so far. PyAV and OpenCV
are imported only when a source is opened.
"""
from __future__ import annotations

from realtime_affect.sources.base import (
                                          IMAGE_SUFFIXES,
                                          STREAM_PREFIXES,
                                          SourceError,
                                          check_readable_file,
                                          is_stream_url,
)
from realtime_affect.sources.camera import CameraSource
from realtime_affect.sources.images import ImageSource, list_images, read_image
from realtime_affect.sources.video import VideoInfo, VideoSource

__all__ = ["IMAGE_SUFFIXES", "STREAM_PREFIXES", "CameraSource", "ImageSource", "SourceError", "VideoInfo",
           "VideoSource", "check_readable_file", "is_stream_url", "list_images", "read_image"]
