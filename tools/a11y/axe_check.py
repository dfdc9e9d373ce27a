"""Accessibility check of an HTML page with axe-core in headless Chromium.

    python tools/a11y/axe_check.py results/report/report.html

loads the page in headless Chromium at a wide (table of contents as a sidebar)
and a narrow window, runs axe-core (npm, pinned in tools/a11y/package-lock.json,
installed by tools/a11y/install.sh) with the WCAG 2.1 A and AA rules, prints the
violations and exits 1 when there is one. The end-to-end tests call `run_axe` on
the rendered report.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands on fd 3, replies on fd 4, NUL-separated JSON), with the standard library
only: no browser driver, no browser download.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: the level EU public bodies must meet
# (Directive (EU) 2016/2102 via EN 301 549)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# CSS pixels: the sidebar layout (wider than 84rem) and a phone-sized one
WIDTHS = (1440, 400)


class AxeError(RuntimeError):
    pass


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


_TRAMPOLINE = (
    "import fcntl, os, sys\n"
    "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, 10) for fd in sys.argv[1:3])\n"
    "os.dup2(r, 3)\n"
    "os.dup2(w, 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class _Browser:
    """Headless Chromium with the DevTools protocol on a pipe."""

    def __init__(self, chromium: str, profile: Path, timeout: float = 180):
        self.timeout = timeout  # seconds to wait for one reply of the browser
        # the browser's own log goes to a file (a pipe nobody reads could fill and stall it)
        self._log = open(profile.parent / "chromium.log", "wb")  # noqa: SIM115
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # a small Python trampoline puts the pipe ends on the fds Chromium reads and
        # writes (3 and 4), then becomes Chromium
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_chrome_r),
                str(from_chrome_w),
                chromium,
                "--headless",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict] = []

    def _read_message(self) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], self.timeout)
            if not ready:
                raise AxeError(f"no reply from Chromium in {self.timeout:.0f} s{self._tail()}")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise AxeError(f"Chromium closed the DevTools pipe{self._tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _tail(self) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return f":\n{text[-2000:]}" if text else ""

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AxeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str, **params) -> dict:
        """The first event `method` of `session` whose params include `params`."""

        def wanted(event: dict) -> bool:
            given = event.get("params", {})
            return (
                event.get("method") == method
                and event.get("sessionId") == session
                and all(given.get(k) == v for k, v in params.items())
            )

        while True:
            for i, event in enumerate(self.events):
                if wanted(event):
                    return self.events.pop(i)
            self.events.append(self._read_message())

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (AxeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._log.close()


def _evaluate(browser: _Browser, session: str, expression: str) -> object:
    result = browser.send(
        "Runtime.evaluate",
        {"expression": expression, "awaitPromise": True, "returnByValue": True},
        session,
    )
    if "exceptionDetails" in result:
        raise AxeError(f"script failed: {json.dumps(result['exceptionDetails'])[:2000]}")
    return result["result"].get("value")


def run_axe(
    page: Path,
    widths: tuple[int, ...] = WIDTHS,
    tags: list[str] = WCAG_21_AA,
    axe_js: Path = AXE_JS,
    chromium: str | None = None,
) -> dict[int, dict]:
    """axe-core's results for `page` (a local HTML file) at each window width:
    {width: {"violations": [...], "incomplete": [...], "passes": n, "version": v}}."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise AxeError("no Chromium on this machine (Debian: apt-get install chromium)")
    if not axe_js.is_file():
        raise AxeError(f"axe-core not installed ({axe_js} missing): run tools/a11y/install.sh")
    source = axe_js.read_text(encoding="utf-8")
    options = {"runOnly": {"type": "tag", "values": tags}}
    run = (
        f"axe.run(document, {json.dumps(options)}).then(r => ({{"
        "violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " tags: v.tags, nodes: v.nodes.map(n => ({target: n.target, html: n.html,"
        " summary: n.failureSummary}))})),"
        " incomplete: r.incomplete.map(v => ({id: v.id, help: v.help,"
        " nodes: v.nodes.map(n => ({target: n.target, html: n.html,"
        " summary: n.failureSummary}))})),"
        " passes: r.passes.length, version: r.testEngine.version}))"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="axe-") as tmp:
        browser = _Browser(chromium, Path(tmp) / "profile")
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            browser.send("Page.enable", session=session)
            browser.send("Page.setLifecycleEventsEnabled", {"enabled": True}, session)
            for width in widths:
                browser.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                    session,
                )
                loader = browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
                # the load event of this navigation (not of about:blank or an earlier one)
                browser.wait_event(
                    "Page.lifecycleEvent", session, name="load", loaderId=loader["loaderId"]
                )
                # added after the load: axe runs on the page as the reader gets it
                _evaluate(browser, session, source + "\n;true")
                results[width] = _evaluate(browser, session, run)
        finally:
            browser.close()
    return results


def describe(violations: list[dict]) -> str:
    """One paragraph per violated rule: rule, impact, help, the first offending nodes."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} nodes]")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
            for line in (node.get("summary") or "").splitlines()[:4]:
                lines.append(f"      {line.strip()[:200]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="an HTML file")
    parser.add_argument(
        "--tags", default=",".join(WCAG_21_AA), help="axe rule tags (comma-separated)"
    )
    args = parser.parse_args(argv)
    results = run_axe(args.page, tags=args.tags.split(","))
    failed = False
    for width, result in results.items():
        violations = result["violations"]
        failed |= bool(violations)
        print(
            f"{args.page} at {width}px: axe-core {result['version']}, "
            f"{len(violations)} rules violated, {result['passes']} passed, "
            f"{len(result['incomplete'])} to review by hand"
        )
        if violations:
            print(describe(violations))
        for item in result["incomplete"]:
            targets = ", ".join(" ".join(n["target"]) for n in item["nodes"][:5])
            print(f"  to review: {item['id']} ({len(item['nodes'])} nodes: {targets})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
