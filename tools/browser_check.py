"""Open executed notebooks in headless Chromium and check that their videos really play.

    python -m tools.browser_check solutions/*.ipynb [--screenshots DIR]

Each notebook is converted to HTML (nbconvert, lab template), served from a local HTTP
server on 127.0.0.1 and loaded in Chromium, driven through the DevTools protocol over a
websocket (websocket-client; no webdriver needed). Every <video> is played muted, then
seeked to its middle and drawn to a canvas, so the report says whether it loaded, decoded
and how long it is, next to the frame count ffmpeg reads from the same MP4. JavaScript
exceptions and console errors are collected, and so is the URL of every request the page
makes (`remote_requests` picks those not to the page's own server). Host names other than
127.0.0.1 do not resolve, so the result is the same with or without a network (CDN
scripts simply fail). `MATH_PROBE` waits for MathJax 3 and finds math it left untypeset.
"""
import argparse
import base64
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v2 as imageio
import websocket
from nbconvert import HTMLExporter

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--mute-audio", "--window-size=1280,900",
    "--autoplay-policy=no-user-gesture-required",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_S = 60.0  # a guard against hanging, far above what any step needs
VIDEO_PAYLOAD = re.compile(r'<video[^>]*\ssrc="data:video/mp4;base64,([^"]+)"')

# Plays each video (muted) until time advances, then seeks to its middle and draws that
# frame to a canvas: a video that only parsed its header would fail here. Finally scrolls
# the last video (in the evaluation notebook, the trained agent) into view for the screenshot.
VIDEO_PROBE = """
(async () => {
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
})()
"""

# Waits until MathJax 3 (if the page has it) has typeset the page, then reports how many
# formulas it typeset, how many it could not, and any TeX still between $...$, \(...\) or
# \[...\] in the text of Markdown cells (code and typeset math left out).
MATH_PROBE = r"""
(async () => {
  const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 'typeset')
                                                    : Promise.resolve('no MathJax');
  const timeout = new Promise(resolve => setTimeout(() => resolve('timed out'), 30000));
  const state = await Promise.race([typeset, timeout]);
  const skip = 'script, style, code, pre, textarea, mjx-container';
  const raw = [];
  for (const cell of document.querySelectorAll('.jp-MarkdownCell')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let text = '';
    while (walker.nextNode()) {
      if (!walker.currentNode.parentElement.closest(skip)) text += walker.currentNode.textContent;
    }
    raw.push(...(text.match(/\$[^$]+\$|\\\(.*?\\\)|\\\[.*?\\\]/gs) || []));
  }
  return {state, raw, typeset: document.querySelectorAll('mjx-container').length,
          failed: document.querySelectorAll('mjx-merror').length};
})()
"""


def find_chromium():
    """Path of a Chromium binary on PATH, or None."""
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class Chromium:
    """A headless Chromium with a fresh profile, stopped (with its children) by `close()`."""

    def __init__(self, binary: str):
        """Start the browser and wait until its DevTools endpoint answers."""
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile.name}", "--remote-debugging-port=0",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        """The DevTools port Chromium picked (it writes it into the profile folder)."""
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Chromium exited with status {self.process.returncode} at start")
            if port_file.exists() and port_file.read_text().strip():
                return int(port_file.read_text().split()[0])
            time.sleep(0.1)
        raise RuntimeError(f"Chromium did not open its DevTools port within {TIMEOUT_S:.0f} s")

    def new_page(self) -> "DevTools":
        """A new tab, driven through its own websocket."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return DevTools(json.load(response)["webSocketDebuggerUrl"])

    def close(self) -> None:
        """Stop the browser's process group and delete the profile."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.profile.cleanup()


class DevTools:
    """A minimal Chrome DevTools Protocol client: commands in order, events kept in `events`."""

    def __init__(self, url: str):
        """Connect to one target's websocket (no Origin header: Chromium refuses unknown ones)."""
        self.socket = websocket.create_connection(url, timeout=TIMEOUT_S, suppress_origin=True)
        self.events = []
        self._next_id = 0

    def send(self, method: str, **params) -> dict:
        """Send a command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message["result"]
            self.events.append(message)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        reply = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:60]!r} failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, timeout_s: float = TIMEOUT_S):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"{expression[:80]!r} still false after {timeout_s:.0f} s")

    def click(self, x: float, y: float) -> None:
        """A left mouse click at page coordinates, as a user makes it."""
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        """Save what the page shows as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def wait_for(self, method: str) -> dict:
        """The first event named `method` (from those already kept, else the next to arrive)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message

    def close(self) -> None:
        """Close the websocket."""
        self.socket.close()


@dataclass
class PageReport:
    """What a page showed: its videos (as the browser saw them) and its errors."""

    url: str
    videos: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    probes: dict = field(default_factory=dict)
    screenshot: Path | None = None


def page_errors(events: list) -> tuple:
    """(JavaScript errors, external resources that could not load) from DevTools events."""
    errors, blocked = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            words = (str(argument.get("value", argument.get("description"))) for argument in params["args"])
            errors.append("console.error: " + " ".join(words))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            url = entry.get("url", "")
            external = url.startswith(("http://", "https://")) and not url.startswith("http://127.0.0.1")
            (blocked if external else errors).append(f"{entry.get('url', '')}: {entry['text']}")
    return errors, blocked


def requested_urls(events: list) -> list:
    """The URL of every request a page made (inline data: URLs left out), from DevTools events."""
    urls = (event["params"]["request"]["url"] for event in events if event.get("method") == "Network.requestWillBeSent")
    return [url for url in urls if not url.startswith("data:")]


def remote_requests(urls: list, page_url: str) -> list:
    """The URLs that do not go to the server `page_url` came from."""
    origin = urllib.parse.urlsplit(page_url)[:2]
    return [url for url in urls if urllib.parse.urlsplit(url)[:2] != origin]


def check_page(chromium: Chromium, url: str, screenshot: Path | None = None, probes: dict | None = None) -> PageReport:
    """Load `url`, run `probes` (name: JavaScript), probe every video, collect errors and requests, maybe screenshot."""
    page = chromium.new_page()
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        report = PageReport(url=url, probes={name: page.evaluate(script) for name, script in (probes or {}).items()})
        probe = page.send("Runtime.evaluate", expression=VIDEO_PROBE, awaitPromise=True, returnByValue=True)
        report.videos = probe["result"].get("value", [])
        if "exceptionDetails" in probe:
            report.errors.append(f"video probe failed: {probe['exceptionDetails']}")
        if screenshot is not None:
            report.screenshot = page.screenshot(screenshot)
        errors, report.blocked = page_errors(page.events)
        report.errors += errors
        report.requests = requested_urls(page.events)
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


@functools.cache
def _exporter() -> HTMLExporter:
    """nbconvert's HTML exporter with the JupyterLab template (what `jupyter nbconvert --to html` uses)."""
    return HTMLExporter(template_name="lab")


def notebook_html(notebook: Path, folder: Path) -> Path:
    """Convert an executed notebook to `folder/<name>.html`."""
    body, _ = _exporter().from_filename(str(notebook))
    path = folder / f"{notebook.stem}.html"
    path.write_text(body, encoding="utf-8")
    return path


def embedded_mp4s(html: str) -> list:
    """The MP4 bytes of every <video> embedded as base64, in page order."""
    return [base64.b64decode(payload) for payload in VIDEO_PAYLOAD.findall(html)]


def count_frames(mp4: bytes) -> int:
    """Frames in an MP4, decoded by ffmpeg (imageio's reader)."""
    return video_facts(mp4)[0]


def video_facts(mp4: bytes) -> tuple:
    """(frames, frames per second, (width, height)) of an MP4, read by ffmpeg (imageio's reader)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        path.write_bytes(mp4)
        with imageio.get_reader(path, format="FFMPEG") as reader:
            meta = reader.get_meta_data()
            return reader.count_frames(), float(meta["fps"]), tuple(meta["size"])


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


def main() -> None:
    """Check the notebooks named on the command line and print one report per notebook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--screenshots", type=Path, default=Path("tests/artifacts"))
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        raise SystemExit("Chromium not found: apt-get install -y chromium")
    chromium = Chromium(binary)
    with tempfile.TemporaryDirectory() as folder:
        server = LocalServer(Path(folder))
        try:
            for notebook in args.notebooks:
                html = notebook_html(notebook, Path(folder))
                frames = [count_frames(mp4) for mp4 in embedded_mp4s(html.read_text())]
                report = check_page(chromium, server.url(html.name), args.screenshots / f"{notebook.stem}.png")
                print(f"{notebook}: {len(report.videos)} videos, screenshot {report.screenshot}")
                for video, count in zip(report.videos, frames):
                    print(f"  {count} frames, expected {count / 50:.2f} s; browser: {video}")
                for error in report.errors:
                    print(f"  JavaScript error: {error}")
                for blocked in report.blocked:
                    print(f"  external resource not loaded (offline by design): {blocked}")
        finally:
            server.close()
            chromium.close()


if __name__ == "__main__":
    main()
