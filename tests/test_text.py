"""Lossy hex -> UTF-8 decoding, checked against Python's own decoder."""

from __future__ import annotations

import codecs
import itertools
import re

import numpy as np
import polars as pl
import pytest

from pipelines import text
from pipelines.text import lossy_utf8_from_hex, nul_repaired_utf8_from_hex


def python_decode(hexes: list[str | None]) -> list[str | None]:
    return [None if h is None else bytes.fromhex(h).decode("utf-8", "replace") for h in hexes]


def collapse(value: str | None) -> str | None:
    """Runs of U+FFFD as one (decoders may differ in how many they emit for one bad sequence)."""
    return None if value is None else re.sub("\ufffd+", "\ufffd", value)


def random_byte_strings(count: int, seed: int) -> list[bytes]:
    """Valid multibyte text, garbage, and valid text with bytes cut, flipped or inserted."""
    rng = np.random.default_rng(seed)
    planes = [(0x20, 0x7F), (0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000)]
    special = [b"\xe0", b"\xed", b"\xf0", b"\xf4", b"\xc0", b"\xc1", b"\xf5", b"\xff", b"\x80"]
    strings = []
    for _ in range(count):
        kind = rng.integers(4)
        if kind == 0:  # valid text mixing 1- to 4-byte characters, U+FFFD included
            low, high = planes[rng.integers(len(planes))]
            chars = [chr(int(c)) for c in rng.integers(low, high, rng.integers(0, 20))]
            strings.append("".join(chars).encode() + "\ufffd".encode() * int(rng.integers(2)))
        elif kind == 1:  # garbage
            strings.append(rng.integers(0, 256, rng.integers(0, 120), dtype=np.uint8).tobytes())
        else:  # valid text, damaged
            chars = [chr(int(c)) for c in rng.integers(0x20, 0x10FFFF, rng.integers(1, 12))]
            data = bytearray("".join(chars).encode("utf-8", "replace"))
            for _ in range(rng.integers(1, 4)):
                at = int(rng.integers(len(data) + 1))
                action = rng.integers(3)
                if action == 0 and data:
                    del data[min(at, len(data) - 1)]
                elif action == 1 and data:
                    data[min(at, len(data) - 1)] = int(rng.integers(0x80, 0x100))
                else:
                    data[at:at] = special[rng.integers(len(special))] + bytes(
                        rng.integers(0x80, 0xC0, rng.integers(0, 3), dtype=np.uint8)
                    )
            strings.append(bytes(data))
    return strings


@pytest.mark.parametrize("chunk_bytes", [text.CHUNK_BYTES, 64])
def test_matches_python_on_random_bytes(monkeypatch: pytest.MonkeyPatch, chunk_bytes: int) -> None:
    monkeypatch.setattr(text, "CHUNK_BYTES", chunk_bytes)  # 64: many chunks, rows across edges
    hexes = [b.hex() for b in random_byte_strings(4000, seed=20240611)]
    decoded = lossy_utf8_from_hex(pl.Series("coinbase_hex", hexes))
    expected = python_decode(hexes)
    assert decoded.name == "coinbase_hex" and decoded.dtype == pl.String
    assert [collapse(v) for v in decoded.to_list()] == [collapse(v) for v in expected]
    assert decoded.to_list() == expected  # same maximal-subpart replacement as Python and Rust


codecs.register_error("nul_per_byte", lambda error: ("\x00" * (error.end - error.start), error.end))


def python_nul_repaired(hexes: list[str | None]) -> list[str | None]:
    return [None if h is None else bytes.fromhex(h).decode("utf-8", "nul_per_byte") for h in hexes]


@pytest.mark.parametrize("chunk_bytes", [text.CHUNK_BYTES, 64])
def test_nul_repaired_matches_python(monkeypatch: pytest.MonkeyPatch, chunk_bytes: int) -> None:
    """Every byte outside a valid UTF-8 sequence is NUL; nulls and bad hex give null."""
    monkeypatch.setattr(text, "CHUNK_BYTES", chunk_bytes)
    hexes = [b.hex() for b in random_byte_strings(4000, seed=7)]
    assert nul_repaired_utf8_from_hex(pl.Series(hexes)).to_list() == python_nul_repaired(hexes)
    bad = [None, "", "414", "zz", "41ff42", "e282ac", "f09f9841"]
    expected = [None, "", None, None, "A\x00B", "€", "\x00\x00\x00A"]
    assert nul_repaired_utf8_from_hex(bad).to_list() == expected


def test_nul_repaired_text_has_the_lossy_texts_matches() -> None:
    """Text without U+FFFD or NUL has the same matches, ASCII case ignored or not, in both."""
    tags = ["/F2Pool/", "pool", "a", "Mined by", "\x7f", "七彩", "€", "é", "AB", "/"]
    damaged = [b"\xff/f2pool/\xe2\x82", b"\xe2\x82\xacpool\xf0\x9f\x98", b"\x80AB\x00ab\xc3"]
    strings = [*random_byte_strings(3000, seed=11), *damaged, "\xe4七彩\xe4".encode()]
    hexes = pl.Series([b.hex() for b in strings])
    for case_insensitive in (False, True):
        found = [
            decode(hexes).str.extract_many(
                tags, ascii_case_insensitive=case_insensitive, overlapping=True
            )
            for decode in (nul_repaired_utf8_from_hex, lossy_utf8_from_hex)
        ]
        assert found[0].list.len().sum() > 300
        assert found[0].to_list() == found[1].to_list()


def test_every_two_and_three_byte_sequence_matches_python() -> None:
    pairs = [bytes(p).hex() for p in itertools.product(range(256), repeat=2)]
    thirds = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0]
    triples = [bytes(t).hex() for t in itertools.product(range(0xC0, 0x100), range(256), thirds)]
    assert lossy_utf8_from_hex(pairs).to_list() == python_decode(pairs)
    assert lossy_utf8_from_hex(triples).to_list() == python_decode(triples)


def test_lead_byte_rules() -> None:
    cases = {
        "e0a080": "\u0800",  # E0 needs A0-BF next
        "e09f80": "\ufffd\ufffd\ufffd",
        "ed9fbf": "\ud7ff",  # ED needs 80-9F next: no surrogates
        "eda080": "\ufffd\ufffd\ufffd",
        "f0908080": "\U00010000",  # F0 needs 90-BF next
        "f08f8080": "\ufffd" * 4,
        "f48fbfbf": "\U0010ffff",  # F4 needs 80-8F next
        "f4908080": "\ufffd" * 4,
        "c0af": "\ufffd\ufffd",  # C0, C1, F5-FF never valid
        "c1bf": "\ufffd\ufffd",
        "f5808080": "\ufffd" * 4,
        "ff": "\ufffd",
        "f09f98": "\ufffd",  # a valid sequence cut short: one U+FFFD
        "f09f9841": "\ufffdA",
        "e282ac": "€",
    }
    assert lossy_utf8_from_hex(list(cases)).to_list() == list(cases.values())


def test_sequences_do_not_cross_rows() -> None:
    decoded = lossy_utf8_from_hex(["e282", "ac", "f09f", "9880", "e282ac"]).to_list()
    assert decoded == ["\ufffd", "\ufffd", "\ufffd", "\ufffd\ufffd", "€"]


def test_nulls_and_bad_hex_give_null() -> None:
    hexes = [None, "", "414", "zz", "41 42", "4142", "C3A9", "0x41", "e282ac"]
    expected = [None, "", None, None, None, "AB", "é", None, "€"]
    assert lossy_utf8_from_hex(pl.Series(hexes)).to_list() == expected


def test_slices_and_empty_input() -> None:
    hexes = pl.Series(["41", None, "c3", "c3a9"] * 3)
    assert lossy_utf8_from_hex(hexes[5:]).to_list() == python_decode(hexes[5:].to_list())
    assert lossy_utf8_from_hex(pl.Series([], dtype=pl.String)).to_list() == []
    assert lossy_utf8_from_hex([None, None]).to_list() == [None, None]


def test_usable_in_a_lazy_query() -> None:
    frame = pl.LazyFrame({"coinbase_hex": ["2f736c7573682f", "ff41"]})
    decoded = frame.select(
        pl.col("coinbase_hex").map_batches(
            lossy_utf8_from_hex, return_dtype=pl.String, is_elementwise=True
        )
    ).collect()
    assert decoded["coinbase_hex"].to_list() == ["/slush/", "\ufffdA"]
