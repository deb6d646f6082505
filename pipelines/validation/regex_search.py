"""Python's ``re.search`` over a Polars string column, with Polars' regex where the two agree.

GX's pandas engine matches regexes with ``Series.str.contains``: Python's ``re.search``. Polars'
(Rust) regex reads some patterns differently (``$`` also matches before a final newline in
Python, ``\\s`` includes ``\\x1c``-``\\x1f``, ``\\d``/``\\w`` follow another Unicode version,
``[[:alpha:]]`` is a POSIX class in Rust and a set of literals in Python), so a pattern is never
handed over as written: it is parsed with Python's own parser and rewritten in Rust syntax,
construct by construct, with the meaning Python gives it on ASCII text without a newline.
Values of that kind (nearly all) are matched by Polars; other values, and every value when the
pattern uses a construct outside that set (lookarounds, backreferences, IGNORECASE, ...), by
Python's ``re``.
"""

from __future__ import annotations

import functools
import re
from re import _parser as sre  # the parser re itself (and pandas) reads patterns with

import polars as pl

# Python's categories on ASCII text, as Rust class items (\s: str.isspace(), \w: isalnum or _).
_ASCII_CATEGORY_ITEMS = {
    sre.CATEGORY_DIGIT: "0-9",
    sre.CATEGORY_SPACE: "\\x{9}-\\x{D}\\x{1C}-\\x{20}",
    sre.CATEGORY_WORD: "0-9A-Za-z_",
}
_NEGATED_CATEGORIES = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
}
# Without a newline in the text, ^ $ \A \Z are the text's ends whatever MULTILINE says.
_ANCHORS = {
    sre.AT_BEGINNING: "\\A",
    sre.AT_BEGINNING_STRING: "\\A",
    sre.AT_END: "\\z",
    sre.AT_END_STRING: "\\z",
    sre.AT_BOUNDARY: "\\b",
    sre.AT_NON_BOUNDARY: "\\B",
}
# Flags that change nothing on ASCII text without a newline (VERBOSE acts while parsing).
_NEUTRAL_FLAGS = re.UNICODE | re.DOTALL | re.MULTILINE | re.VERBOSE


class _Untranslatable(Exception):
    """The pattern uses a construct left to Python's ``re``."""


def _char(code: int) -> str:
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\x{{{code:X}}}"


def _category(category: object) -> str:
    if category in _ASCII_CATEGORY_ITEMS:
        return f"[{_ASCII_CATEGORY_ITEMS[category]}]"
    if category in _NEGATED_CATEGORIES:
        return f"[^{_ASCII_CATEGORY_ITEMS[_NEGATED_CATEGORIES[category]]}]"
    raise _Untranslatable(category)


def _class(items: list) -> str:
    negate = bool(items) and items[0][0] is sre.NEGATE
    parts = []
    for op, arg in items[negate:]:
        if op is sre.LITERAL:
            parts.append(_char(arg))
        elif op is sre.RANGE:
            parts.append(f"{_char(arg[0])}-{_char(arg[1])}")
        elif op is sre.CATEGORY:
            parts.append(_category(arg))
        else:
            raise _Untranslatable(op)
    return "[" + "^" * negate + "".join(parts) + "]"


def _sequence(tokens: list) -> str:
    out = []
    for op, arg in tokens:
        if op is sre.LITERAL:
            out.append(_char(arg))
        elif op is sre.NOT_LITERAL:
            out.append(f"[^{_char(arg)}]")
        elif op is sre.ANY:
            out.append(".")
        elif op is sre.IN:
            out.append(_class(arg))
        elif op is sre.AT and arg in _ANCHORS:
            out.append(_ANCHORS[arg])
        elif op is sre.BRANCH:
            out.append("(?:" + "|".join(_sequence(branch) for branch in arg[1]) + ")")
        elif op is sre.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            if (add_flags | del_flags) & ~_NEUTRAL_FLAGS:
                raise _Untranslatable("scoped flags")
            out.append(f"(?:{_sequence(body)})")
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):  # lazy or greedy: the same matches exist
            low, high, body = arg
            out.append(f"(?:{_sequence(body)}){{{low},{'' if high is sre.MAXREPEAT else high}}}")
        else:
            raise _Untranslatable(op)
    return "".join(out)


@functools.cache
def rust_pattern(pattern: str) -> str | None:
    """``pattern`` in Polars' regex syntax, matching as ``re.search`` does on ASCII text without
    a newline; None when the pattern is left to Python's ``re``."""
    try:
        parsed = sre.parse(pattern)
        if parsed.state.flags & ~_NEUTRAL_FLAGS:
            return None
        translated = _sequence(list(parsed))
        pl.Series([""]).str.contains(translated)  # Rust's limits (e.g. repetition size)
    except (_Untranslatable, re.error, pl.exceptions.ComputeError):
        return None
    return translated


def search(values: pl.Series, pattern: str) -> pl.Series:
    """Whether ``re.search(pattern, value)`` finds a match, per string value (null stays null)."""
    compiled = re.compile(pattern)

    def python_search(texts: list[str | None]) -> list[bool | None]:
        return [None if t is None else compiled.search(t) is not None for t in texts]

    translated = rust_pattern(pattern)
    if translated is None:
        return pl.Series(values.name, python_search(values.to_list()), dtype=pl.Boolean)
    matched = values.str.contains(translated)
    plain = (values.str.len_bytes() == values.str.len_chars()) & ~values.str.contains(
        "\n", literal=True
    )
    others = (~plain).fill_null(False).arg_true()
    if others.len():
        matched = matched.scatter(others, python_search(values.gather(others).to_list()))
    return matched
