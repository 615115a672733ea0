"""Render an HTML report in a real headless Chromium: screenshot, DOM, and every network request it made.

Reusable by any report test::

    from tests.reports.browser import chromium_or_fail, render

    page = render("/path/report.html", tmp_path)
    assert page.non_white_fraction() > 0.02
    assert page.dom.count("<svg") >= 3
    assert page.network_requests == []

Chromium comes from the Debian packages (``apt-get install -y chromium``; ``.ci/run`` installs it when missing).
Requests are observed with Chromium's own NetLog (``--log-net-log``): every URL request the page (or the browser)
started is in it; :func:`network_requests` returns those with a network scheme (http, https, ws, wss, ftp).
PNG screenshots are decoded here (zlib + numpy; no imaging package).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_or_fail() -> str:
    """The Chromium executable; fails (never skips) with how to install it."""
    path = find_chromium()
    if path is None:
        import pytest

        pytest.fail("no Chromium: install it with `apt-get update && apt-get install -y chromium` (.ci/run does)")
    return path


# --------------------------------------------------------------------------------------------- PNG


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB/RGBA (or grey) non-interlaced PNG as a uint8 array [height, width, channels]."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {color}, interlace {interlace})")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int16)
    for y in range(height):
        line = _unfilter(int(rows[y, 0]), rows[y, 1:].astype(np.int16), prev, channels)
        out[y] = line
        prev = line.astype(np.int16)
    return out.reshape(height, width, channels)


def _unfilter(kind: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line.astype(np.uint8)
    if kind == 2:  # Up
        return ((line + prev) & 0xFF).astype(np.uint8)
    cur = line.copy()
    if kind == 1:  # Sub: a running sum per channel
        cur = cur.reshape(-1, bpp)
        return (np.cumsum(cur, axis=0, dtype=np.int64) & 0xFF).astype(np.uint8).reshape(-1)
    for i in range(len(cur)):  # Average, Paeth: sequential within the row
        a = int(cur[i - bpp]) if i >= bpp else 0
        b = int(prev[i])
        if kind == 3:
            cur[i] = (cur[i] + (a + b) // 2) & 0xFF
        else:
            c = int(prev[i - bpp]) if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 0xFF
    return cur.astype(np.uint8)


# --------------------------------------------------------------------------------------------- rendering


BROWSER_INITIATOR = "not an origin"  # NetLog's initiator of the browser's own requests (updates, time, sign-in)
PAGE_KEYS = ("network_isolation_key", "network_anonymization_key", "group_id", "key")


def _events(netlog_path: str | Path) -> tuple[list[dict], dict[int, str]]:
    text = Path(netlog_path).read_text(errors="replace")
    try:
        log = json.loads(text)
    except ValueError:  # an unfinished log (the browser was killed): close it
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    return log.get("events", []), types


def _network_urls(params: dict) -> list[str]:
    out = []
    for key in ("url", "original_url", "location", "host", "destination"):
        value = params.get(key)
        if isinstance(value, str) and value.lower().startswith(NETWORK_SCHEMES):
            out.append(value)
    return out


def network_requests(netlog_path: str | Path) -> tuple[list[str], list[str]]:
    """``(page, browser)``: network URLs in a Chromium NetLog that the page caused, and the browser's own.

    A request is the page's when a document started it (its ``URL_REQUEST_START_JOB`` initiator is an origin;
    a ``file://`` page's is ``"null"``) or when it is keyed to the page's ``file://`` site (sockets, preconnects,
    cache entries). The browser's background requests (component updater, network time, sign-in) have the
    initiator "not an origin" and no ``file://`` key; they are returned apart, not counted against the page.
    """
    events, types = _events(netlog_path)
    page, browser = set(), set()
    for event in events:
        params = event.get("params") or {}
        urls = _network_urls(params)
        keyed_to_page = any("file://" in str(params.get(k, "")) for k in PAGE_KEYS)
        if types.get(event.get("type")) == "URL_REQUEST_START_JOB":
            (browser if params.get("initiator") == BROWSER_INITIATOR and not keyed_to_page else page).update(urls)
        elif keyed_to_page:
            page.update(urls)
            page.update(
                u for k in PAGE_KEYS for u in re.findall(r"(?:https?|wss?|ftp)://[^\s<>]+", str(params.get(k, "")))
            )
        else:
            browser.update(urls)
    return sorted(page), sorted(browser - page)


@dataclass
class RenderedPage:
    screenshot: Path
    dom: str
    network_requests: list[str]  # what the page requested (http, https, ws, ...): must be []
    browser_requests: list[str]  # the browser's own background requests (not the page's), for information
    pixels: np.ndarray  # [height, width, channels] uint8

    def non_white_fraction(self, threshold: int = 245) -> float:
        """Share of pixels that are not (near) white."""
        rgb = self.pixels[..., :3]
        return float((rgb.min(axis=2) < threshold).mean())

    def coloured_fraction(self, spread: int = 40) -> float:
        """Share of clearly coloured (not grey/black/white) pixels: charts, not just text."""
        rgb = self.pixels[..., :3].astype(np.int16)
        return float(((rgb.max(axis=2) - rgb.min(axis=2)) > spread).mean())


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def render(html_path: str | Path, out_dir: str | Path, width: int = 1280, height: int = 1800) -> RenderedPage:
    """Open ``html_path`` (a local file) in headless Chromium twice: a screenshot and the DOM after load, each with
    a fresh profile and a NetLog; returns both and every network URL either run touched."""
    chromium = chromium_or_fail()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = Path(html_path).resolve().as_uri()
    stem = Path(html_path).stem
    shot, logs = out / f"{stem}.png", [out / f"{stem}.shot.netlog.json", out / f"{stem}.dom.netlog.json"]
    runs = {
        "screenshot": [f"--screenshot={shot}", f"--window-size={width},{height}"],
        "dom": ["--dump-dom"],
    }
    dom = ""
    for (name, extra), netlog in zip(runs.items(), logs, strict=True):
        with tempfile.TemporaryDirectory(prefix="kfx-chromium-") as profile:
            cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}", *extra, url]
            done = _run(cmd)
        if done.returncode != 0:
            raise RuntimeError(f"chromium {name} failed ({done.returncode}): {done.stderr[-2000:]}")
        if name == "dom":
            dom = done.stdout
    if not shot.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {shot}")
    page, browser = (sorted({u for log in logs for u in network_requests(log)[i]}) for i in (0, 1))
    return RenderedPage(shot, dom, page, browser, decode_png(shot.read_bytes()))
