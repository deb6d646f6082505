"""Vectorised text helpers: coinbase scriptSigs (arbitrary bytes) and names compared loosely.

``lossy_utf8_from_hex`` gives the same text as Python's ``bytes.fromhex(h).decode("utf-8",
"replace")`` and Rust's ``String::from_utf8_lossy`` (the Unicode "maximal subpart" practice): each
valid UTF-8 sequence is kept; a valid sequence cut short (``F0 9F 98``) becomes one U+FFFD, and
every other invalid byte one U+FFFD each (``C0 AF``, ``ED A0 80``, ``FF``). Valid sequences use
the exact rules of both: C0, C1, F5-FF never start one, E0 needs A0-BF next, ED 80-9F, F0 90-BF,
F4 80-8F, and no sequence crosses a row boundary.

``nul_repaired_utf8_from_hex`` keeps the same valid sequences and makes every other byte NUL.

The work is numpy over the concatenated byte buffer and its row offsets, in small chunks of whole
rows, one after the other: no Python loop per row. Small chunks keep numpy's temporaries small
enough for malloc to reuse; larger chunks spread over threads spent more time in page faults than
they gained (measured on two cores, 925k coinbases).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

CHUNK_BYTES = 1 << 15  # decoded bytes per numpy pass


def normalise_key(expr: pl.Expr) -> pl.Expr:
    """Lower-case letters and digits only: 'BTC.com', 'btccom' and 'BTC com' share a key."""
    return expr.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]", "")


def _hex_pair_table() -> np.ndarray:
    """Byte value of every two-character hex pair read as a little-endian uint16; 0xFFFF if bad."""
    digit = np.full(256, 0xFFFF, np.uint16)
    digit[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
    digit[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
    digit[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
    pair = np.arange(1 << 16)
    high, low = digit[pair & 0xFF], digit[pair >> 8]
    return np.where((high > 15) | (low > 15), 0xFFFF, (high << 4) | low).astype(np.uint16)


HEX_PAIRS = _hex_pair_table()


def lossy_utf8_from_hex(hex_strings: pl.Series | Sequence[str | None]) -> pl.Series:
    """Decode hex strings to text, invalid UTF-8 replaced by U+FFFD.

    Nulls stay null, and so do strings that are not hex (odd length, other characters): the
    caller reports those as the non-null inputs with a null output. In a lazy query use
    ``pl.col(c).map_batches(lossy_utf8_from_hex, return_dtype=pl.String, is_elementwise=True)``.
    """
    return _decode_hex(hex_strings, _repair_utf8)


def nul_repaired_utf8_from_hex(hex_strings: pl.Series | Sequence[str | None]) -> pl.Series:
    """Decode hex strings to text, each byte outside a valid UTF-8 sequence replaced by NUL
    (nulls and non-hex strings give null, as in ``lossy_utf8_from_hex``).

    The text differs from ``lossy_utf8_from_hex``'s only where that one has U+FFFD, so text with
    neither U+FFFD nor NUL is found in both at the same places; this one costs less to build
    (every byte keeps its place).
    """
    return _decode_hex(hex_strings, _blank_invalid_utf8)


Repair = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _decode_hex(hex_strings: pl.Series | Sequence[str | None], repair: Repair) -> pl.Series:
    """Hex strings decoded to bytes, made valid UTF-8 by ``repair`` (bytes of whole rows and
    their offsets -> text bytes and their offsets), chunk by chunk."""
    if not isinstance(hex_strings, pl.Series):
        hex_strings = pl.Series(hex_strings, dtype=pl.String)
    hex_strings = hex_strings.cast(pl.String)
    valid = (hex_strings.str.len_bytes() % 2 == 0).fill_null(False)
    even = pl.select(pl.when(valid).then(hex_strings).otherwise(pl.lit(""))).to_series()
    array = even.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string
    _, offsets_buffer, chars_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[array.offset :][: len(array) + 1]
    chars = np.frombuffer(chars_buffer, np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]

    rows = len(array)
    cuts = np.searchsorted(offsets, np.arange(2 * CHUNK_BYTES, len(chars), 2 * CHUNK_BYTES))
    cuts = np.unique(np.concatenate(([0], cuts, [rows])))
    results = [
        _decode_chunk(
            chars[offsets[first] : offsets[last]],
            (offsets[first : last + 1] - offsets[first]) // 2,
            repair,
        )
        for first, last in itertools.pairwise(cuts)
    ]

    valid = valid.to_numpy(writable=True)
    pieces, out_offsets, written = [np.empty(0, np.uint8)], [np.zeros(1, np.int64)], 0
    for first, (piece, piece_offsets, bad_rows) in zip(cuts[:-1], results, strict=True):
        pieces.append(piece)
        out_offsets.append(piece_offsets[1:] + written)
        written += len(piece)
        valid[first + bad_rows] = False
    null_count = rows - int(np.count_nonzero(valid))
    strings = pa.LargeStringArray.from_buffers(
        rows,
        pa.py_buffer(np.concatenate(out_offsets)),
        pa.py_buffer(np.concatenate(pieces)),
        pa.py_buffer(np.packbits(valid, bitorder="little")) if null_count else None,
        null_count,
    )
    return pl.Series(hex_strings.name, strings, dtype=pl.String)


def _decode_chunk(
    chars: np.ndarray, offsets: np.ndarray, repair: Repair
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hex characters of whole rows and their (decoded) row offsets -> (repaired bytes, their row
    offsets, non-hex rows)."""
    pairs = np.take(HEX_PAIRS, chars.view("<u2"))
    bad = np.flatnonzero(pairs > 0xFF)
    bad_rows = np.searchsorted(offsets, bad, "right") - 1
    data, out_offsets = repair(pairs.astype(np.uint8), offsets)
    return data, out_offsets, bad_rows


def _blank_invalid_utf8(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes of whole rows -> the same bytes with every one outside a valid UTF-8 sequence NUL,
    and the same offsets."""
    if len(data) and data.max() > 0x7F:
        data *= _utf8_sequences(data, offsets)[0]
    return data, offsets


def _utf8_sequences(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For bytes of whole rows (``offsets`` from 0): which are part of a valid UTF-8 sequence,
    and which continue a valid sequence cut short (replaced with it as one U+FFFD)."""
    n = len(data)
    padded = np.zeros(n + 3, np.uint8)
    padded[:n] = data
    cont = padded.view(np.int8) < -64  # continuation byte 80-BF ...
    cont[offsets[1:-1]] = False  # ... that does not start a row
    b, second = data, padded[1 : n + 1]
    c2, c3 = cont[2 : n + 2], cont[3 : n + 3]
    two = (b - np.uint8(0xC2)) < 30  # C2-DF
    three = (b - np.uint8(0xE0)) < 16  # E0-EF
    four = (b - np.uint8(0xF0)) < 5  # F0-F4
    ok1 = cont[1 : n + 1] & ~(  # the second byte may follow this lead byte
        ((b == 0xE0) & (second < 0xA0))
        | ((b == 0xED) & (second > 0x9F))
        | ((b == 0xF0) & (second < 0x90))
        | ((b == 0xF4) & (second > 0x8F))
    )
    ok2 = ok1 & c2
    end2, end3, end4 = two & ok1, three & ok2, four & ok2 & c3  # valid sequence starts here
    end34 = end3 | end4
    end234 = end2 | end34
    covered = b < 0x80
    covered |= end234
    covered[1:] |= end234[:-1]
    covered[2:] |= end34[:-2]
    covered[3:] |= end4[:-3]
    cut_short = np.zeros(n, bool)
    cut_short[1:] = ((three | four) & ok1 & ~end34)[:-1]
    cut_short[2:] |= (four & ok2 & ~c3)[:-2]
    return covered, cut_short


def _repair_utf8(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes of whole rows (``offsets`` from 0) -> valid UTF-8 bytes and their row offsets."""
    n = len(data)
    if n == 0 or data.max() < 0x80:
        return data, offsets
    # a valid sequence cut short is replaced as a whole: its continuation bytes are dropped
    covered, dropped = _utf8_sequences(data, offsets)
    bad = ~covered
    lengths = (bad.view(np.uint8) << 1) + np.uint8(1)  # output bytes per input byte: 1, 3 or 0
    lengths -= dropped.view(np.uint8) * np.uint8(3)
    starts = np.empty(n + 1, np.intp)
    starts[0] = 0
    np.add.accumulate(lengths, dtype=np.intp, out=starts[1:])
    out = np.empty(starts[-1] + 1, np.uint8)
    starts[np.flatnonzero(dropped)] = starts[-1]  # dropped bytes go to a spare slot at the end
    out[starts[:-1]] = data
    bad &= ~dropped
    replaced = starts[np.flatnonzero(bad)]
    out[replaced] = 0xEF  # U+FFFD
    out[1:][replaced] = 0xBF
    out[2:][replaced] = 0xBD
    return out[:-1], starts[offsets]
