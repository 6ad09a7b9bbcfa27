"""What an MP4 or QuickTime (MOV) file says about itself, from its first bytes: duration, width and height.

``video_info`` reads only box headers (ISO BMFF, which QuickTime shares): ``moov/mvhd`` for the duration (its time
scale and duration, version 0 or 1) and the ``tkhd`` of the first video track (``mdia/hdlr`` handler ``vide``; a
track with no handler in the bytes given counts as video if it has a size) for the presentation width and height.
It is pure Python, never decodes a frame, and is safe on hostile input: every loop is bounded, nothing is trusted
beyond the bytes given, and a truncated header gives what was read so far.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

#: Box types a file may start with: MP4 (``ftyp``), a QuickTime movie (``moov``, ``mdat``, ``wide``, ``free``,
#: ``skip``, ``pnot``), or a fragmented/streamed one (``styp``, ``sidx``, ``moof``); ``uuid`` for vendor boxes.
_FIRST = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"styp", b"sidx", b"moof", b"uuid"})
#: At most this many boxes are looked at on one level, and this many tracks.
_MAX_BOXES = 4096
_MAX_TRACKS = 64


def video_info(head: bytes) -> tuple[float | None, int | None, int | None]:
    """``(duration_s, width, height)`` of the MP4/MOV whose first bytes are ``head``; None for what they lack.

    The duration is ``mvhd``'s (None if its time scale is 0 or its duration is "unknown", all ones). Width and height
    are the first video track's presentation size, rounded to whole pixels (None if zero). Raises ``ValueError``
    only when ``head`` does not start like an MP4 or MOV file at all.
    """
    data = memoryview(bytes(head))
    if len(data) < 8 or bytes(data[4:8]) not in _FIRST:
        raise ValueError("not an MP4 or MOV file: it does not start with an ISO BMFF box (ftyp, moov, mdat, ...)")
    duration: float | None = None
    size: tuple[int | None, int | None] = (None, None)
    for kind, body in _boxes(data):
        if kind != b"moov":
            continue
        for inner, payload in _boxes(body):
            if inner == b"mvhd" and duration is None:
                duration = _duration(payload)
        size = _first_video_size(body)
        break
    return duration, size[0], size[1]


def _boxes(data: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """The boxes in ``data`` (type, payload), up to the first that does not fit; a truncated last box is given
    truncated (its payload is what there is)."""
    offset = 0
    for _ in range(_MAX_BOXES):
        if offset + 8 > len(data):
            return
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:  # 64-bit size follows the type
            if offset + 16 > len(data):
                return
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - offset
        if size < header:
            return  # a corrupt size: stop rather than loop or read backwards
        yield bytes(kind), data[offset + header : min(offset + size, len(data))]
        offset += size


def _duration(mvhd: memoryview) -> float | None:
    """Seconds from an ``mvhd`` payload: version 0 (32-bit times) or 1 (64-bit)."""
    if len(mvhd) < 4:
        return None
    version = mvhd[0]
    if version == 1:
        if len(mvhd) < 4 + 28:
            return None
        timescale, duration = struct.unpack_from(">IQ", mvhd, 4 + 16)
        unknown = 0xFFFFFFFFFFFFFFFF
    else:
        if len(mvhd) < 4 + 16:
            return None
        timescale, duration = struct.unpack_from(">II", mvhd, 4 + 8)
        unknown = 0xFFFFFFFF
    if timescale == 0 or duration == unknown:
        return None
    return float(duration / timescale)


def _first_video_size(moov: memoryview) -> tuple[int | None, int | None]:
    """Width and height from the ``tkhd`` of the first track whose handler is ``vide`` (or unknown, with a size)."""
    tracks = (payload for kind, payload in _boxes(moov) if kind == b"trak")
    for index, trak in enumerate(tracks):
        if index >= _MAX_TRACKS:
            break
        handler: bytes | None = None
        size: tuple[int | None, int | None] = (None, None)
        for inner, payload in _boxes(trak):
            if inner == b"tkhd":
                size = _tkhd_size(payload)
            elif inner == b"mdia":
                for leaf, body in _boxes(payload):
                    if leaf == b"hdlr" and len(body) >= 12:
                        handler = bytes(body[8:12])
        if handler == b"vide" or (handler is None and size != (None, None)):
            return size
    return None, None


def _tkhd_size(tkhd: memoryview) -> tuple[int | None, int | None]:
    """The presentation width and height (16.16 fixed point) at the end of a ``tkhd`` payload."""
    if len(tkhd) < 4:
        return None, None
    at = 4 + (32 if tkhd[0] == 1 else 20) + 8 + 8 + 36  # times/ids, reserved, layer..volume, matrix
    if len(tkhd) < at + 8:
        return None, None
    width, height = struct.unpack_from(">II", tkhd, at)
    return (round(width / 65536) or None), (round(height / 65536) or None)
