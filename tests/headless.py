"""Headless Chromium driven over the DevTools protocol, for tests that check what a person sees.

Why this and not Selenium: opening a page, collecting its console messages, script exceptions
and failed loads, reading the DOM and taking a screenshot are each one DevTools call over one
websocket, so the only Python dependency is a websocket client (`websockets`, in the dev
extra). Selenium would add its own package tree and chromedriver for the same calls.
Chromium is Debian's package (`make browser` installs it); the flags keep it off the network
(a closed network makes it hang on background connections) and let it run as root.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--remote-debugging-port=0"]


def chromium_binary() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class Browser:
    """One headless Chromium with one page; `problems()` lists what would show in its console
    as an error: console errors, uncaught exceptions, failed loads and HTTP errors."""

    def __init__(self, binary: str, start_timeout_s: float = 60):
        from websockets.sync.client import connect

        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self.log = tempfile.TemporaryFile()  # not a pipe: a full pipe would stall Chromium
        self.process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        try:
            port = self._devtools_port(start_timeout_s)
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next(t for t in targets if t["type"] == "page")
            self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        except BaseException:
            self.close()
            raise
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.page_start = 0  # events from here on belong to the page opened last
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def _devtools_port(self, timeout_s: float) -> int:
        """Chromium writes the port it chose into the profile once DevTools listens."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"chromium exited with {self.process.returncode}: "
                                   f"{self.log.read().decode(errors='replace')[-2000:]}")
            if active.is_file() and (lines := active.read_text().splitlines()):
                return int(lines[0])
            time.sleep(0.1)
        raise TimeoutError(f"chromium's DevTools did not start within {timeout_s:g} s")

    def call(self, method: str, timeout_s: float = 30, **params) -> dict:
        """Send one DevTools command and return its result; events that arrive meanwhile are kept."""
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def open(self, url: str, headers: dict | None = None, timeout_s: float = 30) -> None:
        """Navigate and wait for the load event."""
        self.call("Network.setExtraHTTPHeaders", headers=headers or {})
        self.page_start = loaded = len(self.events)
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"could not open {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[loaded:]):
            self.events.append(json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.01))))

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Those of the page opened last."""
        found = []
        for event in self.events[self.page_start:]:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params['args']]}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} ({params['entry'].get('url')})")
            elif method == "Network.loadingFailed":
                found.append(f"load failed: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                found.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        return found

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """The whole page, not just the viewport, as PNG."""
        for height in (600, None):  # first the width (a short viewport), then the content's height at it
            height = height or self.evaluate("document.documentElement.scrollHeight")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        socket = getattr(self, "socket", None)
        if socket is not None:
            socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
