"""Bitcoin Core's asmap (IP prefix → AS number), read offline from its binary file.

The file is a bytecode program over the 128 bits of an IPv6 address (IPv4 as ``::ffff:a.b.c.d``),
bits read least-significant first within each byte (``src/util/asmap.cpp``). Each instruction is
a type, then an integer in a variable-length code (a run of 1 bits picks a size class, then that
many mantissa bits, most significant first):

- RETURN asn: the address maps to ``asn``;
- JUMP offset: read one address bit; on 1 skip ``offset`` program bits, on 0 continue;
- MATCH pattern: the next address bits must equal the pattern's bits after its leading 1,
  otherwise the answer is the current default;
- DEFAULT asn: the answer for a later mismatch.

``Asmap.from_file`` walks every path of the program once into sorted ranges ``[start, next
start)`` of 128-bit addresses, so that ``lookup`` is a vectorised ``search_sorted``. ``interpret``
runs the program for one address, as Bitcoin Core does (the reference the ranges are tested
against). AS 0 means unmapped and is returned as null. Asmap files are made smaller by letting
unannounced address space take a neighbour's AS, so such an address may still get an AS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

RETURN, JUMP, MATCH, DEFAULT = range(4)
_TYPE_SIZES = (0, 0, 1)
_ASN_SIZES = tuple(range(15, 25))
_MATCH_SIZES = tuple(range(1, 9))
_JUMP_SIZES = tuple(range(5, 31))
_MIN_TYPE, _MIN_ASN, _MIN_MATCH, _MIN_JUMP = 0, 1, 2, 17

IPV4_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96, where IPv4 addresses live in the asmap
_NAT64 = 0x0064_FF9B << 96  # 64:ff9b::/96 (RFC 6052)
_SIIT = 0xFFFF << 48  # ::ffff:0:0:0/96 (RFC 6145)
_IPV4_RE = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
# Not routable on the internet (Bitcoin Core's CNetAddr::IsRoutable and IsValid): no AS.
_UNROUTABLE = (
    *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"),
    *("172.16.0.0/12", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24"),
    *("203.0.113.0/24", "255.255.255.255/32", "::/127", "fe80::/64", "fc00::/7"),
    *("2001:10::/28", "2001:20::/28", "2001:db8::/32"),
)


class AsmapError(ValueError):
    """The asmap program is malformed (runs off its end, jumps too far, ...)."""


class _Program:
    """The program's bits as a '0'/'1' string, with the instruction-field decoders."""

    def __init__(self, data: bytes) -> None:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        self.bits = (bits + ord("0")).tobytes().decode("ascii")
        self.end = len(self.bits)

    def _decode(self, pos: int, minval: int, sizes: tuple[int, ...]) -> tuple[int, int]:
        """(value, position after it): a run of k ones (k < len(sizes)) selects size class k."""
        last = len(sizes) - 1
        zero = self.bits.find("0", pos, pos + last)
        k = last if zero < 0 else zero - pos
        if zero < 0 and pos + last > self.end:
            raise AsmapError(f"integer at bit {pos} runs past the end of the program")
        pos += k + (k < last)  # the run of ones, and its terminating 0 unless implicit
        size = sizes[k]
        if pos + size > self.end:
            raise AsmapError(f"integer at bit {pos} runs past the end of the program")
        value = minval + sum(1 << s for s in sizes[:k])
        return value + (int(self.bits[pos : pos + size], 2) if size else 0), pos + size

    def instruction(self, pos: int) -> tuple[int, int, int]:
        """(opcode, argument, position after the instruction) at ``pos``."""
        opcode, pos = self._decode(pos, _MIN_TYPE, _TYPE_SIZES)
        if opcode in (RETURN, DEFAULT):
            return opcode, *self._decode(pos, _MIN_ASN, _ASN_SIZES)
        if opcode == JUMP:
            return opcode, *self._decode(pos, _MIN_JUMP, _JUMP_SIZES)
        return opcode, *self._decode(pos, _MIN_MATCH, _MATCH_SIZES)


@lru_cache(maxsize=4)
def _program(data: bytes) -> _Program:
    return _Program(data)


def interpret(data: bytes, address: int, bits: int = 128) -> int:
    """The AS number the program ``data`` gives the ``bits``-bit integer ``address`` (0: none)."""
    program = _program(data)
    pos, left, default = 0, bits, 0
    while pos < program.end:
        opcode, argument, pos = program.instruction(pos)
        if opcode == RETURN:
            return argument
        if opcode == DEFAULT:
            default = argument
        elif opcode == JUMP:
            if left == 0 or argument >= program.end - pos:
                raise AsmapError(f"invalid jump before bit {pos}")
            left -= 1
            if (address >> left) & 1:
                pos += argument
        else:
            length = argument.bit_length() - 1
            if left < length:
                raise AsmapError(f"match before bit {pos} needs more address bits")
            left -= length
            if (address >> left) & ((1 << length) - 1) != argument - (1 << length):
                return default
    raise AsmapError("the program ends without RETURN")


def _ranges(data: bytes, bits: int = 128) -> tuple[list[int], list[int]]:
    """Every path of the program: sorted range starts and their AS numbers (0: unmapped)."""
    program = _program(data)
    starts: list[int] = []
    asns: list[int] = []
    # ("run", program position, address prefix, prefix length, default) or ("leaf", start, asn)
    stack: list[tuple] = [("run", 0, 0, 0, 0)]
    while stack:
        item = stack.pop()
        if item[0] == "leaf":
            starts.append(item[1])
            asns.append(item[2])
            continue
        _, pos, prefix, depth, default = item
        while True:
            if pos >= program.end:
                raise AsmapError("the program ends without RETURN")
            opcode, argument, pos = program.instruction(pos)
            if opcode == RETURN:
                starts.append(prefix << (bits - depth))
                asns.append(argument)
                break
            if opcode == DEFAULT:
                default = argument
            elif opcode == JUMP:
                if depth == bits or argument >= program.end - pos:
                    raise AsmapError(f"invalid jump before bit {pos}")
                stack.append(("run", pos + argument, prefix << 1 | 1, depth + 1, default))
                prefix, depth = prefix << 1, depth + 1
            else:
                length = argument.bit_length() - 1
                if depth + length > bits:
                    raise AsmapError(f"match before bit {pos} needs more address bits")
                for i in range(length - 1, -1, -1):  # pattern bits, most significant first
                    bit = (argument >> i) & 1
                    prefix, depth = prefix << 1, depth + 1
                    miss = (prefix | (1 - bit)) << (bits - depth)
                    if bit:  # the mismatching 0 branch comes before the rest: emit it now
                        starts.append(miss)
                        asns.append(default)
                    else:  # the mismatching 1 branch comes after everything below
                        stack.append(("leaf", miss, default))
                    prefix |= bit
    return starts, asns


def address_values(addresses: pl.Series) -> pl.Series:
    """Addresses as 128-bit integers the way Bitcoin Core looks them up in the asmap.

    IPv4 becomes ``::ffff:a.b.c.d``; IPv6 addresses that embed an IPv4 address (IPv4-mapped,
    6to4, Teredo, NAT64, SIIT) use that IPv4 address, as Core's ``GetMappedAS`` does. Brackets
    are dropped; overlay addresses (onion, i2p), non-routable ones (private, loopback,
    link-local, documentation, ...) and anything unparsable give null.
    """
    text = addresses.cast(pl.String).str.strip_chars().str.strip_chars("[]")
    octets = text.str.extract_groups(_IPV4_RE).struct.unnest().cast(pl.Int64)
    valid = pl.all_horizontal(pl.all() <= 255)
    ipv4 = octets.select(
        pl.when(valid).then(
            pl.sum_horizontal(pl.col(c) * (1 << (24 - 8 * i)) for i, c in enumerate(octets.columns))
        )
    ).to_series()
    v6_values = [_ipv6_value(a) if a is not None and ":" in a else None for a in text]
    ipv6 = pl.Series(v6_values, dtype=pl.UInt128)
    value = (
        pl.when(ipv4.is_not_null())
        .then(ipv4.cast(pl.UInt128) + pl.lit(IPV4_MAPPED, pl.UInt128))
        .otherwise(ipv6)
    )
    routable = ~pl.any_horizontal(
        value.is_between(pl.lit(low, pl.UInt128), pl.lit(high, pl.UInt128))
        for low, high in _unroutable_ranges()
    )
    return pl.select(pl.when(routable).then(value)).to_series().alias(addresses.name)


@lru_cache(maxsize=1)
def _unroutable_ranges() -> list[tuple[int, int]]:
    """The non-routable networks as inclusive 128-bit ranges (IPv4 as ``::ffff:a.b.c.d``)."""
    ranges = []
    for text in _UNROUTABLE:
        network = ipaddress.ip_network(text)
        offset = IPV4_MAPPED if network.version == 4 else 0
        ranges.append((offset + int(network[0]), offset + int(network[-1])))
    return ranges


def _ipv6_value(text: str) -> int | None:
    """One IPv6 address as an integer, an embedded IPv4 address as ``::ffff:a.b.c.d``."""
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    value = int(address)
    if address.ipv4_mapped is not None:
        return value
    if address.sixtofour is not None:
        return IPV4_MAPPED | int(address.sixtofour)
    if address.teredo is not None:
        return IPV4_MAPPED | int(address.teredo[1])
    if value >> 32 in (_NAT64 >> 32, _SIIT >> 32):
        return IPV4_MAPPED | (value & 0xFFFF_FFFF)
    return value


@dataclass(frozen=True)
class Asmap:
    """An asmap decoded into sorted, non-overlapping address ranges covering all addresses."""

    starts: pl.Series  # UInt128, strictly increasing, the first is 0
    asns: pl.Series  # Int64, the AS number of [start, next start); null where unmapped

    @classmethod
    def from_bytes(cls, data: bytes) -> Asmap:
        starts, asns = _ranges(data)
        ranges = pl.DataFrame(
            {"start": pl.Series(starts, dtype=pl.UInt128), "asn": pl.Series(asns, dtype=pl.Int64)}
        ).sort("start")
        # adjacent ranges with the same AS are one range
        ranges = ranges.filter(pl.col("asn").ne_missing(pl.col("asn").shift(1)))
        return cls(ranges["start"], ranges["asn"].replace(0, None))

    @classmethod
    def from_file(cls, path: Path | str) -> Asmap:
        return cls.from_bytes(Path(path).read_bytes())

    def __len__(self) -> int:
        return self.starts.len()

    def lookup(self, addresses: pl.Series) -> pl.Series:
        """The AS number of each address (Int64; null for unmapped, overlay or invalid ones)."""
        values = address_values(addresses)
        index = self.starts.search_sorted(values.fill_null(0), side="right").cast(pl.Int64) - 1
        found = self.asns.gather(index)
        return (
            pl.select(pl.when(values.is_not_null()).then(found)).to_series().alias(addresses.name)
        )
