"""Binary WebSocket frames that carry a JSON header and a JPEG image: ``/ws/view`` (server -> page: a frame
message and the analysed frame) and ``/ws/camera`` (page -> server: a browser camera frame).

Layout: 4-byte big-endian length N, N bytes of UTF-8 JSON, then the JPEG bytes.
"""
from __future__ import annotations

import json
import struct

from realtime_affect.errors import InputError

MAX_HEADER_BYTES = 64 * 1024


class FrameFormatError(InputError, ValueError):
    """A binary message that is not [length][JSON][JPEG]."""


def pack(header: dict, jpeg: bytes) -> bytes:
    return pack_text(json.dumps(header, separators=(",", ":")), jpeg)


def pack_text(header_json: str, jpeg: bytes) -> bytes:
    text = header_json.encode()
    return b"".join((struct.pack(">I", len(text)), text, jpeg))


def unpack(data: bytes) -> tuple[dict, bytes]:
    if len(data) < 4:
        raise FrameFormatError("a camera frame must start with a 4-byte header length")
    (n,) = struct.unpack(">I", data[:4])
    if n > MAX_HEADER_BYTES or 4 + n > len(data):
        raise FrameFormatError(f"header length {n} does not fit the {len(data)}-byte message")
    try:
        header = json.loads(data[4:4 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrameFormatError(f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise FrameFormatError("the header must be a JSON object")
    return header, data[4 + n:]
