"""Open the course's pages in headless Chromium and check what a reader gets: videos that play,
math that is typeset, no JavaScript error, nothing loaded from the network.

    python -m tools.browser_check solutions/*.ipynb [--screenshots DIR]

The notebooks are built into the course's static site (tools.build_site, in a temporary
folder), served from 127.0.0.1 and loaded in Debian's `chromium`, which Playwright drives
through `executable_path`: Playwright never downloads a browser of its own here. Every
<video> is played muted, then seeked to its middle and drawn to a canvas, so the report says
whether it loaded, decoded and how long it is, next to the frame count ffmpeg reads from the
same MP4. JavaScript exceptions and console errors are collected, and so is the URL of every
request a page makes (`remote_requests` picks those not to the page's own server). Host names
other than 127.0.0.1 do not resolve, so the result is the same with or without a network.
"""
import argparse
import base64
import contextlib
import functools
import http.server
import json
import re
import shutil
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v2 as imageio
from playwright.sync_api import sync_playwright

from tools import build_site

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Without the background-networking flags Chromium's own connections (updates, sync) are refused
# here and logged; the resolver rule keeps every page on this machine, network or not.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}
VIDEO_PAYLOAD = re.compile(r'<video[^>]*\ssrc="data:video/mp4;base64,([^"]+)"')

# Plays each video (muted) until time advances, then seeks to its middle and draws that
# frame to a canvas: a video that only parsed its header would fail here. Finally scrolls
# the last video (in the evaluation notebook, the trained agent) into view for the screenshot.
VIDEO_PROBE = """
async () => {
  const until = (target, event, ms) => new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    target.addEventListener(event, () => { clearTimeout(timer); resolve(true); }, {once: true});
  });
  // A looping video may fire 'seeked' on its own: poll until the seek is done and a frame is there.
  const settled = async (video, ms) => {
    const start = performance.now();
    while ((video.seeking || video.readyState < 2) && !video.error && performance.now() - start < ms) {
      await new Promise(resolve => setTimeout(resolve, 50));
    }
  };
  const probe = async (video) => {
    video.muted = true;
    let played = false;
    try {
      await video.play();
      while (video.currentTime === 0 && !video.error && !video.ended) {
        if (!await until(video, 'timeupdate', 10000)) break;
      }
      played = video.currentTime > 0;
      video.pause();
      video.currentTime = video.duration / 2;
      await settled(video, 10000);
    } catch (error) { played = 'play() failed: ' + error; }
    let brightness = null;
    if (video.readyState >= 2) {
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      context.drawImage(video, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let sum = 0;
      for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
      brightness = sum / (pixels.length / 4);
    }
    return {readyState: video.readyState, duration: video.duration, error: video.error && video.error.code,
            width: video.videoWidth, height: video.videoHeight, played, brightness};
  };
  const videos = [...document.querySelectorAll('video')];
  const results = [];
  for (const video of videos) results.push(await probe(video));
  if (videos.length) videos[videos.length - 1].scrollIntoView({block: 'center'});
  return results;
}
"""

# Waits until MathJax 3 (if the page has it) has typeset the page, then reports how many
# formulas it typeset, how many it could not, and any TeX still between $...$, \(...\) or
# \[...\] in the text of the elements `prose` selects (code, typeset math and `skip` left out).
MATH_PROBE = r"""
async ({prose, skip}) => {
  const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 'typeset')
                                                    : Promise.resolve('no MathJax');
  const timeout = new Promise(resolve => setTimeout(() => resolve('timed out'), 30000));
  const state = await Promise.race([typeset, timeout]);
  const skipped = ['script, style, code, pre, textarea, mjx-container', skip].filter(Boolean).join(', ');
  const raw = [];
  for (const element of document.querySelectorAll(prose)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    let text = '';
    while (walker.nextNode()) {
      if (!walker.currentNode.parentElement.closest(skipped)) text += walker.currentNode.textContent;
    }
    raw.push(...(text.match(/\$[^$]+\$|\\\(.*?\\\)|\\\[.*?\\\]/gs) || []));
  }
  return {state, raw, typeset: document.querySelectorAll('mjx-container').length,
          failed: document.querySelectorAll('mjx-merror').length};
}
"""

SITE_PROBES = {
    "math": (MATH_PROBE, {"prose": "article.bd-article", "skip": ".cell"}),
    "images": "async () => Promise.all([...document.querySelectorAll('.cell_output img')].map("
              "image => image.decode().then(() => image.naturalWidth > 0, () => false)))",
    "text": "document.body.innerText",
    "live_notes": "document.querySelectorAll('.course-live-note').length",
}
"""What the checks read off a page of the course site (tools.build_site): its math, its pictures, its text."""


def find_chromium():
    """Path of a Chromium binary on PATH, or None."""
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@contextlib.contextmanager
def launch(binary: str | None = None):
    """A headless Chromium (Debian's, never one Playwright downloads) with a fresh profile, closed on exit."""
    binary = binary or find_chromium()
    if binary is None:
        raise RuntimeError("Chromium not found: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageReport:
    """What a page showed: its videos (as the browser saw them), its errors and its requests."""

    url: str
    videos: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    probes: dict = field(default_factory=dict)
    screenshot: Path | None = None


def is_remote(url: str, page_url: str) -> bool:
    """True for an http(s) URL on another server than the page's."""
    return url.startswith(("http://", "https://")) and not same_origin(url, page_url)


def same_origin(url: str, page_url: str) -> bool:
    """True when `url` has the scheme and host:port of `page_url`."""
    return urllib.parse.urlsplit(url)[:2] == urllib.parse.urlsplit(page_url)[:2]


def remote_requests(urls: list, page_url: str) -> list:
    """The URLs that do not go to the server (or folder, for file://) `page_url` came from."""
    return [url for url in urls if not same_origin(url, page_url)]


def watch(page, report: PageReport) -> None:
    """Collect into `report` the page's JavaScript errors, resources that failed, and every URL it requests."""
    def on_console(message) -> None:
        """An error logged to the console: blocked when a remote resource failed (offline by design), else an error."""
        if message.type not in ("error", "assert"):
            return
        url = message.location.get("url", "")
        if is_remote(url, report.url):
            report.blocked.append(f"{url}: {message.text}")
        else:  # a console.error call, or a local resource (an inline image, say) that failed to load
            report.errors.append(f"{url}: {message.text}" if url else f"console.error: {message.text}")

    def on_request(request) -> None:
        """Every URL the page asks for, inline data: ones left out."""
        if not request.url.startswith("data:"):
            report.requests.append(request.url)

    page.on("pageerror", lambda error: report.errors.append(str(error)))
    page.on("console", on_console)
    page.on("request", on_request)


def check_page(browser, url: str, screenshot: Path | None = None, probes: dict | None = None) -> PageReport:
    """Load `url`, run `probes` (name: JavaScript, or (JavaScript, argument)), probe every video, maybe screenshot."""
    page = browser.new_page(viewport=VIEWPORT)
    report = PageReport(url=url)
    watch(page, report)
    try:
        page.goto(url, wait_until="load")
        for name, probe in (probes or {}).items():
            script, argument = probe if isinstance(probe, tuple) else (probe, None)
            report.probes[name] = page.evaluate(script, argument)
        report.videos = page.evaluate(VIDEO_PROBE)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshot)
            report.screenshot = screenshot
        return report
    finally:
        page.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging every request, and an empty favicon instead of a 404."""

    def do_GET(self) -> None:
        """Answer the browser's favicon request with "no content" (a 404 would log an error)."""
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
        else:
            super().do_GET()

    def log_message(self, *args) -> None:
        """Stay silent."""


class LocalServer:
    """Serve a folder over HTTP on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, folder: Path):
        """Start serving `folder`."""
        handler = functools.partial(QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        """The URL of file `name` in the served folder."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def embedded_mp4s(html: str) -> list:
    """The MP4 bytes of every <video> embedded as base64, in page order."""
    return [base64.b64decode(payload) for payload in VIDEO_PAYLOAD.findall(html)]


def video_facts(mp4: bytes) -> tuple:
    """(frames, frames per second, (width, height)) of an MP4, read by ffmpeg (imageio's reader)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        path.write_bytes(mp4)
        with imageio.get_reader(path, format="FFMPEG") as reader:
            meta = reader.get_meta_data()
            return reader.count_frames(), float(meta["fps"]), tuple(meta["size"])


def print_report(report: PageReport, facts: list) -> None:
    """One page's report: math, pictures, videos beside what ffmpeg reads from them, errors, remote requests."""
    math, images = report.probes["math"], report.probes["images"]
    print(f"{report.url}: MathJax {math['state']}, {math['typeset']} formulas, {math['failed']} failed, "
          f"{len(math['raw'])} left as TeX; {sum(images)} of {len(images)} pictures decoded; "
          f"{len(report.videos)} videos; screenshot {report.screenshot}")
    for video, (count, fps, _) in zip(report.videos, facts):
        print(f"  {count} frames at {fps:g} fps, expected {count / fps:.2f} s; browser: {json.dumps(video)}")
    for error in report.errors:
        print(f"  JavaScript error: {error}")
    for url in remote_requests(report.requests, report.url):
        print(f"  request that left the local server: {url}")


def main() -> None:
    """Build the site of the notebooks named on the command line, check each page, print one report per page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks, e.g. solutions/*.ipynb")
    parser.add_argument("--screenshots", type=Path, help="folder to save one screenshot per page into")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, launch() as browser:
        site = Path(folder) / "site"
        build_site.build(site, paths=args.notebooks)
        server = LocalServer(site)
        try:
            for name in ["index", *(notebook.stem for notebook in args.notebooks)]:
                html = (site / f"{name}.html").read_text(encoding="utf-8")
                facts = [video_facts(mp4) for mp4 in embedded_mp4s(html)]
                shot = args.screenshots / f"{name}.png" if args.screenshots else None
                print_report(check_page(browser, server.url(f"{name}.html"), shot, SITE_PROBES), facts)
        finally:
            server.close()


if __name__ == "__main__":
    main()
