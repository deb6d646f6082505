"""scan_lines: non-blank lines with their numbers, NUL bytes set apart."""

from __future__ import annotations

from pathlib import Path

from pipelines.sources.lines import scan_lines


def test_blank_lines_are_left_out(tmp_path: Path) -> None:
    """Lines of whitespace only (spaces, tabs, CR, no-break space) go; any other line stays."""
    lines = [
        '{"a": 1}',
        "",
        "   ",
        "\t",
        "\r",
        "\u00a0",
        '  {"b": 2}',
        "text",
        " x ",
        "{",
        "a\x00b",
    ]
    path = tmp_path / "lines.txt"
    path.write_bytes("\n".join(lines).encode())
    kept = scan_lines(path).collect()
    assert kept["line_no"].to_list() == [1, 7, 8, 9, 10, 11]
    assert kept["line"].to_list() == ['{"a": 1}', '  {"b": 2}', "text", " x ", "{", "a"]
    assert kept["nul"].to_list() == [None, None, None, None, None, "b"]
