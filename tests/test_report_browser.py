"""The HTML report in a real browser: Debian's chromium, headless, renders it to a screenshot
with nothing in the console (no script error, no blocked load, no Content-Security-Policy
violation). Skipped, with the reason, where chromium is not installed.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conformance.report import html as report_html
from tests.test_report_model import sample_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install "
                                "chromium); the page is checked in a real browser where it is")


def screenshot(page, png, profile) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--window-size=1400,1800", f"--screenshot={png}", "--enable-logging=stderr", "--v=0", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console(stderr: str) -> list[str]:
    """What the page wrote to the console (chromium logs each message as ``...:CONSOLE(...)] "..."``)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_report_renders_in_headless_chromium_without_console_errors(tmp_path):
    page = tmp_path / "report.html"
    report_html.write(sample_run(name="<img src=x onerror=alert(1)>", hostile=True), page)
    png = tmp_path / "report.png"
    proc = screenshot(page, png, tmp_path / "profile")
    assert png.is_file(), proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert console(proc.stderr) == []


def test_the_console_check_sees_an_error(tmp_path):
    """The check above is not vacuous: a page with a failing script shows up in it."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><meta charset=utf-8><p>x</p><script>undefinedFunction()</script>")
    proc = screenshot(page, tmp_path / "bad.png", tmp_path / "profile")
    assert any("undefinedFunction" in line for line in console(proc.stderr)), proc.stderr
