"""Placeholder videos: a small, valid MP4 (ISO BMFF) holding real H.264 frames, written by hand.

No video library is needed. The H.264 stream is Constrained Baseline profile: one SPS, one PPS and, per frame, one
IDR slice whose macroblocks are all ``I_PCM`` (raw 8-bit samples after a 9-bit macroblock type), which any decoder
must accept and which needs no entropy coding beyond Exp-Golomb headers. Frames are tiny (the long side is 32 pixels,
rounded up to whole 16x16 macroblocks and cropped back by the SPS's frame cropping), there are at most 2 a second and
at most ``MAX_FRAMES`` in all, so a file stays well under 200 KB whatever its length.

The MP4 header says what the job asked for: ``mvhd``/``mdhd`` carry the requested duration and ``tkhd`` the requested
presentation size (16.16 fixed point), which players scale the tiny coded frames to. The layout is ``ftyp``, ``moov``
(``mvhd``, ``trak`` with ``tkhd`` and ``mdia``/``minf``/``stbl``: ``stsd`` with ``avc1`` + ``avcC``, ``stts``, ``stsc``,
``stsz``, ``stco``), then ``mdat``: the header comes first, so the first kilobytes of a download describe the video.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from functools import lru_cache

#: Units per second of the movie and media time scales: 48000 is divisible by 16, 24, 25, 30 and 1000, so a frame
#: count at a model's frame rate (81 frames at 16 fps) is an exact duration.
TIMESCALE = 48_000
#: Frames per second of the placeholder (a shorter video gets at least one frame).
FPS = 2
#: At most this many frames, however long the video: longer ones get slower frames, not bigger files.
MAX_FRAMES = 60
#: Longest side of the coded picture, in pixels, before rounding up to whole macroblocks.
LONG_SIDE = 32
#: Longest duration a header can state (one day), and the shortest (one frame at 1 ms).
MAX_DURATION_S = 86_400.0
MIN_DURATION_S = 0.001
#: Largest presentation width or height ``tkhd`` can hold (16.16 fixed point).
MAX_SIDE = 65_535

PROFILE_IDC = 66  # Baseline
CONSTRAINT_FLAGS = 0xC0  # constraint_set0 and constraint_set1: Constrained Baseline
LEVEL_IDC = 10  # level 1.0: up to 99 macroblocks a frame, plenty for 2x2 or 2x1
I_PCM = 25  # mb_type of an I_PCM macroblock in an I slice
MB = 16


@dataclass(frozen=True, slots=True)
class Layout:
    """The coded picture: whole macroblocks, and the part of it shown (cropped right and bottom)."""

    width: int  # shown, even
    height: int
    mbs_wide: int
    mbs_high: int

    @property
    def coded_width(self) -> int:
        return self.mbs_wide * MB

    @property
    def coded_height(self) -> int:
        return self.mbs_high * MB


def layout_for(width: float, height: float) -> Layout:
    """The tiny picture for a ``width`` x ``height`` video: the same aspect ratio, long side ``LONG_SIDE``."""
    wide, tall = max(width, 1e-9), max(height, 1e-9)
    landscape = wide >= tall
    shown_w = LONG_SIDE if landscape else _even(LONG_SIDE * wide / tall)
    shown_h = _even(LONG_SIDE * tall / wide) if landscape else LONG_SIDE
    return Layout(shown_w, shown_h, math.ceil(shown_w / MB), math.ceil(shown_h / MB))


def _even(value: float) -> int:
    return max(2, min(LONG_SIDE, 2 * round(value / 2)))


# --- H.264 ---------------------------------------------------------------------------------------------------------


class BitWriter:
    """Bits, most significant first, with the Exp-Golomb codes of H.264 (ue(v), se(v))."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0  # pending bits, fewer than 8
        self._pending = 0

    def u(self, bits: int, value: int) -> None:
        """``value`` in ``bits`` bits."""
        self._acc = (self._acc << bits) | (value & ((1 << bits) - 1))
        self._pending += bits
        while self._pending >= 8:
            self._pending -= 8
            self._out.append((self._acc >> self._pending) & 0xFF)
        self._acc &= (1 << self._pending) - 1

    def ue(self, value: int) -> None:
        """Unsigned Exp-Golomb: ``n`` zeros, then ``value + 1`` in ``n + 1`` bits."""
        code = value + 1
        self.u(code.bit_length() - 1, 0)
        self.u(code.bit_length(), code)

    def se(self, value: int) -> None:
        """Signed Exp-Golomb: 1, -1, 2, -2, ... are codes 1, 2, 3, 4, ..."""
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        """Zero bits up to the next byte boundary (``pcm_alignment_zero_bit``)."""
        if self._pending:
            self.u(8 - self._pending, 0)

    def raw(self, data: bytes) -> None:
        """Whole bytes (at a byte boundary)."""
        if self._pending:
            raise ValueError("raw bytes must start at a byte boundary")
        self._out += data

    def trailing(self) -> bytes:
        """``rbsp_trailing_bits`` (a one, then zeros to the byte boundary), and the bytes written."""
        self.u(1, 1)
        self.align_zero()
        return bytes(self._out)


def nal(nal_ref_idc: int, nal_unit_type: int, rbsp: bytes) -> bytes:
    """A NAL unit: its header byte, then the payload with emulation prevention (0x000003 before 00-03 bytes)."""
    out = bytearray([(nal_ref_idc << 5) | nal_unit_type])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sps(layout: Layout) -> bytes:
    """The sequence parameter set (NAL type 7): Constrained Baseline, 4:2:0, frame cropping to the shown size."""
    w = BitWriter()
    w.u(8, PROFILE_IDC)
    w.u(8, CONSTRAINT_FLAGS)
    w.u(8, LEVEL_IDC)
    w.ue(0)  # seq_parameter_set_id
    w.ue(0)  # log2_max_frame_num_minus4: frame_num has 4 bits
    w.ue(2)  # pic_order_cnt_type 2: output order is decoding order
    w.ue(1)  # max_num_ref_frames
    w.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    w.ue(layout.mbs_wide - 1)  # pic_width_in_mbs_minus1
    w.ue(layout.mbs_high - 1)  # pic_height_in_map_units_minus1
    w.u(1, 1)  # frame_mbs_only_flag
    w.u(1, 1)  # direct_8x8_inference_flag
    crop_right = (layout.coded_width - layout.width) // 2  # in units of 2 pixels (4:2:0)
    crop_bottom = (layout.coded_height - layout.height) // 2
    w.u(1, 1 if crop_right or crop_bottom else 0)  # frame_cropping_flag
    if crop_right or crop_bottom:
        for offset in (0, crop_right, 0, crop_bottom):  # left, right, top, bottom
            w.ue(offset)
    w.u(1, 0)  # vui_parameters_present_flag
    return nal(3, 7, w.trailing())


def pps() -> bytes:
    """The picture parameter set (NAL type 8): CAVLC, one slice group, deblocking controlled by the slice."""
    w = BitWriter()
    w.ue(0)  # pic_parameter_set_id
    w.ue(0)  # seq_parameter_set_id
    w.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    w.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    w.ue(0)  # num_slice_groups_minus1
    w.ue(0)  # num_ref_idx_l0_default_active_minus1
    w.ue(0)  # num_ref_idx_l1_default_active_minus1
    w.u(1, 0)  # weighted_pred_flag
    w.u(2, 0)  # weighted_bipred_idc
    w.se(0)  # pic_init_qp_minus26
    w.se(0)  # pic_init_qs_minus26
    w.se(0)  # chroma_qp_index_offset
    w.u(1, 1)  # deblocking_filter_control_present_flag
    w.u(1, 0)  # constrained_intra_pred_flag
    w.u(1, 0)  # redundant_pic_cnt_present_flag
    return nal(3, 8, w.trailing())


def frame_samples(layout: Layout, seed: bytes, index: int) -> list[bytes]:
    """One frame's samples, macroblock by macroblock in raster order: 256 luma bytes, then 64 Cb and 64 Cr.

    A diagonal luma gradient that moves with ``index`` over two colours from ``seed``; every sample is in the
    video range 16-235 (no zero bytes, though the NAL writer would escape them anyway).
    """
    cb, cr = 64 + seed[0] % 128, 64 + seed[1] % 128
    blocks = []
    for mb_y in range(layout.mbs_high):
        for mb_x in range(layout.mbs_wide):
            luma = bytes(
                16 + ((mb_x * MB + x) * 5 + (mb_y * MB + y) * 3 + index * 23 + seed[2]) % 220
                for y in range(MB)
                for x in range(MB)
            )
            chroma_b = bytes((cb + (x + y + index) * 2) % 220 + 16 for y in range(8) for x in range(8))
            chroma_r = bytes((cr + (x - y) * 2 + index * 3) % 220 + 16 for y in range(8) for x in range(8))
            blocks.append(luma + chroma_b + chroma_r)
    return blocks


def idr_slice(layout: Layout, seed: bytes, index: int) -> bytes:
    """One frame as an IDR slice (NAL type 5) of I_PCM macroblocks; consecutive IDRs alternate ``idr_pic_id``."""
    w = BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(7)  # slice_type: I (every slice of the picture)
    w.ue(0)  # pic_parameter_set_id
    w.u(4, 0)  # frame_num (log2_max_frame_num = 4): 0 in an IDR picture
    w.ue(index % 2)  # idr_pic_id
    w.u(1, 0)  # dec_ref_pic_marking: no_output_of_prior_pics_flag
    w.u(1, 0)  # long_term_reference_flag
    w.se(0)  # slice_qp_delta
    w.ue(1)  # disable_deblocking_filter_idc: off
    for block in frame_samples(layout, seed, index):
        w.ue(I_PCM)  # mb_type
        w.align_zero()  # pcm_alignment_zero_bit
        w.raw(block)  # pcm_sample_luma[256], pcm_sample_chroma[128]
    return nal(3, 5, w.trailing())


# --- ISO BMFF ------------------------------------------------------------------------------------------------------


def box(kind: bytes, *payload: bytes) -> bytes:
    """A box: 32-bit size, four-character type, payload."""
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A full box: a box whose payload starts with a version byte and 24 bits of flags."""
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)  # identity


def _mvhd(duration: int) -> bytes:
    version = 1 if duration > 0xFFFFFFFF else 0
    times = struct.pack(">QQIQ" if version else ">IIII", 0, 0, TIMESCALE, duration)
    rest = struct.pack(">IH10x", 0x10000, 0x100) + _MATRIX + bytes(24) + struct.pack(">I", 2)  # next_track_ID
    return full_box(b"mvhd", version, 0, times, rest)


def _tkhd(duration: int, width: float, height: float) -> bytes:
    version = 1 if duration > 0xFFFFFFFF else 0
    head = struct.pack(">QQI4xQ" if version else ">III4xI", 0, 0, 1, duration)  # times, track_ID 1, duration
    size = struct.pack(">II", _fixed(width), _fixed(height))
    return full_box(b"tkhd", version, 0x3, head, bytes(8), struct.pack(">hhH2x", 0, 0, 0), _MATRIX, size)


def _fixed(side: float) -> int:
    """A side in 16.16 fixed point (fractions kept), clamped to what the field holds."""
    return min(round(min(max(side, 0.0), MAX_SIDE) * 65536), 0xFFFFFFFF)


def _mdhd(duration: int) -> bytes:
    version = 1 if duration > 0xFFFFFFFF else 0
    times = struct.pack(">QQIQ" if version else ">IIII", 0, 0, TIMESCALE, duration)
    return full_box(b"mdhd", version, 0, times, struct.pack(">HH", 0x55C4, 0))  # language "und"


def _avc1(layout: Layout, sps_nal: bytes, pps_nal: bytes) -> bytes:
    avcc = box(
        b"avcC",
        bytes([1, PROFILE_IDC, CONSTRAINT_FLAGS, LEVEL_IDC, 0xFF, 0xE1]),  # 4-byte NAL lengths, one SPS
        struct.pack(">H", len(sps_nal)),
        sps_nal,
        bytes([1]),
        struct.pack(">H", len(pps_nal)),
        pps_nal,
    )
    name = b"krea-mcp sandbox"
    entry = (
        bytes(6)
        + struct.pack(">H", 1)  # data_reference_index
        + bytes(16)  # pre_defined, reserved, pre_defined[3]
        + struct.pack(">HHIII", layout.width, layout.height, 0x480000, 0x480000, 0)
        + struct.pack(">H", 1)  # frame_count
        + bytes([len(name)])
        + name.ljust(31, b"\0")
        + struct.pack(">Hh", 0x18, -1)  # depth, pre_defined
    )
    return box(b"avc1", entry, avcc)


def _stts(duration: int, frames: int) -> bytes:
    """Sample durations that add up to exactly ``duration``: the remainder goes one unit each to the last frames."""
    base, extra = divmod(duration, frames)
    runs = [(frames - extra, base), (extra, base + 1)] if extra else [(frames, base)]
    return full_box(b"stts", 0, 0, struct.pack(">I", len(runs)), *(struct.pack(">II", n, d) for n, d in runs))


@dataclass(frozen=True, slots=True)
class Video:
    """What ``mp4_video`` wrote, for tests and callers that check it."""

    data: bytes
    layout: Layout
    frames: int
    duration: int  # in TIMESCALE units


def frame_count(seconds: float) -> int:
    """How many frames a video of ``seconds`` gets: ``FPS`` a second, at least 1, at most ``MAX_FRAMES``."""
    return max(1, min(MAX_FRAMES, round(seconds * FPS)))


def mp4_video(seconds: float, width: float, height: float, seed_text: str = "") -> Video:
    """An MP4 of ``seconds`` (clamped to 1 ms..1 day) whose header states a ``width`` x ``height`` presentation."""
    if not (math.isfinite(seconds) and math.isfinite(width) and math.isfinite(height)):
        raise ValueError("duration and size must be finite numbers")
    seconds = min(max(seconds, MIN_DURATION_S), MAX_DURATION_S)
    layout = layout_for(width, height)
    seed = hashlib.sha256(seed_text.encode("utf-8")).digest()
    frames = frame_count(seconds)
    duration = max(frames, round(seconds * TIMESCALE))
    sps_nal, pps_nal = sps(layout), pps()
    samples = [struct.pack(">I", len(s)) + s for s in (idr_slice(layout, seed, i) for i in range(frames))]

    # Every sample is a sync sample (IDR), so there is no stss box: its absence says exactly that.
    def moov(chunk_offset: int) -> bytes:
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, struct.pack(">I", 1), _avc1(layout, sps_nal, pps_nal)),
            _stts(duration, frames),
            full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1)),  # one chunk holds every sample
            full_box(b"stsz", 0, 0, struct.pack(">II", 0, frames), *(struct.pack(">I", len(s)) for s in samples)),
            full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
        )
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
        minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0")
        trak = box(b"trak", _tkhd(duration, width, height), box(b"mdia", _mdhd(duration), hdlr, minf))
        return box(b"moov", _mvhd(duration), trak)

    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2avc1mp41")
    head = len(ftyp) + len(moov(0)) + 8  # the mdat payload starts after ftyp, moov and mdat's own header
    data = ftyp + moov(head) + box(b"mdat", *samples)
    return Video(data, layout, frames, duration)


@lru_cache(maxsize=8)
def placeholder_mp4(seconds: float, width: float, height: float, seed_text: str = "") -> bytes:
    """The bytes of ``mp4_video`` (cached: a finished job's video is fetched more than once)."""
    return mp4_video(seconds, width, height, seed_text).data
