"""The report in a real browser: headless Chromium opens index.html from disk (no network), every
chart draws without a console error, and a full-page screenshot is kept for a human to look at
(test-output/report/report.png under the project root)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.report import render_report
from tests.conftest import PROJECT_ROOT
from tests.report_data import EXPECTED_CHARTS, GENERATED_AT, PROVENANCE, build_report_database

SCREENSHOT_DIR = PROJECT_ROOT / "test-output" / "report"
ALL_DRAWN = "window.__chartsExpected > 0 && window.__chartsDrawn === window.__chartsExpected"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Chromium not found on PATH: the browser test needs it (`make test` installs it; on "
            "Debian/Ubuntu: apt-get install chromium)."
        )
    return found


def test_report_draws_every_chart_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    con = duckdb.connect(str(build_report_database(tmp_path)), read_only=True)
    try:
        index = render_report(
            con, tmp_path / "site", provenance=PROVENANCE, generated_at=GENERATED_AT
        )
    finally:
        con.close()

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            # any network request is an error: the page must be self-contained
            def refuse(route) -> None:
                errors.append(f"network request: {route.request.url}")
                route.abort()

            page.route("http*://**", refuse)
            page.goto(index.resolve().as_uri())
            page.wait_for_function(ALL_DRAWN, timeout=30_000)
            drawn, expected = page.evaluate("[window.__chartsDrawn, window.__chartsExpected]")
            svgs = page.locator(".obs-chart .main-svg").count()
            page.wait_for_function("window.__chartsFitted === true", timeout=30_000)
            overflowing = page.evaluate(
                """Array.from(document.querySelectorAll("figure.chart")).filter(f => {
                    const svg = f.querySelector(".main-svg");
                    return svg && svg.getBoundingClientRect().width >
                        f.getBoundingClientRect().width + 1;
                }).length"""
            )
            # the tables sort by a column on click (p-values, descending on the second click)
            significant = page.locator("#verdicts-significant + p + table")
            p_header = significant.locator("thead th:nth-child(6)")
            assert p_header.inner_text().strip(" ↕") == "p"
            p_header.click()
            p_header.click()
            p_values = significant.locator("tbody tr td:nth-child(6)").all_inner_texts()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert drawn == expected == EXPECTED_CHARTS
    assert svgs >= EXPECTED_CHARTS
    assert p_values == ["0.027", "0.012", "0.002", "< 0.001"]
    assert shot.stat().st_size > 10_000
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    kept = SCREENSHOT_DIR / "report.png"
    shutil.copyfile(shot, kept)
    print(f"report screenshot: {kept}")
    assert overflowing == 0, f"{overflowing} charts are wider than their box"
