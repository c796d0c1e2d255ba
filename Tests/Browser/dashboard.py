#!/usr/bin/env python3
"""Drives the fsdfs dashboard in a real headless Chromium over the DevTools protocol.

As a person would: a wrong password is refused, the right one logs in, the overview shows
min(K-N), a file uploaded through the file input reaches 100% and then K = N, it downloads
with the same bytes, and it is deleted after confirming, gone from the page and from
`fsdfsd ls`. Prints one line per step; exits 0 when every step passed, 1 otherwise.

    dashboard.py --url http://127.0.0.1:4242/ui/ --password SECRET \
        [--fsdfsd PATH --master HOST:PORT] [--screenshot overview.png] [--screenshot-only]

Needs Debian's `chromium` and the `websocket-client` package (pinned in .ci/run).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import websocket


class StepFailed(Exception):
    pass


class Chromium:
    """A headless Chromium and one page of it, attached through the browser's DevTools socket."""

    def __init__(self, binary, width=1280, height=800):
        self.profile = tempfile.mkdtemp(prefix="fsdfs-chromium-")
        self.process = subprocess.Popen(
            [
                binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-dev-shm-usage", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and len(open(port_file).read().split("\n")) >= 2):
            if self.process.poll() is not None:
                raise StepFailed(f"chromium exited: {self.process.stderr.read().decode(errors='replace')[-2000:]}")
            if time.time() > deadline:
                raise StepFailed("chromium did not open its DevTools port within 30 s")
            time.sleep(0.05)  # poll interval, bounded by the deadline
        port, path = open(port_file).read().split("\n")[:2]
        self.socket = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        self.page("Network.enable")
        self.page("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise StepFailed(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method, params=None):
        return self.call(method, params, self.session)

    def evaluate(self, expression):
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise StepFailed(f"script failed: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    def wait_for(self, what, expression, timeout=30):
        """Polls `expression` in the page until it is truthy; returns its value."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.evaluate(expression)
            except StepFailed as error:  # the page is navigating
                last = str(error)
            if last:
                return last
            time.sleep(0.1)  # poll interval, bounded by the deadline
        raise StepFailed(f"timed out after {timeout} s waiting for {what} (last: {last!r})")

    def navigate(self, url):
        self.page("Page.navigate", {"url": url})
        self.wait_for(f"{url} to load", "document.readyState === 'complete' && location.href !== 'about:blank'")

    def cookies(self, url):
        return self.page("Network.getCookies", {"urls": [url]}).get("cookies", [])

    def screenshot(self, path, width=1280, height=800):
        self.page("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700})
        time.sleep(0.5)  # let the page redraw its charts at the new size (resize is debounced by 150 ms)
        data = self.page("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # already gone
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def js(value):
    return json.dumps(value)


def log_in(browser, base, password):
    browser.navigate(base + "login")
    browser.wait_for("the login form", "!!document.querySelector('#password')")
    browser.evaluate(f"document.querySelector('#password').value = {js(password)}; document.querySelector('#login-form').requestSubmit(); true")


def run(args):
    base = args.url if args.url.endswith("/") else args.url + "/"
    origin = urllib.parse.urlsplit(base)
    browser = Chromium(args.chromium)
    downloads = tempfile.mkdtemp(prefix="fsdfs-downloads-")
    try:
        # 1. A wrong password: refused with a message, still on the login page, no cookie.
        log_in(browser, base, "not-the-swarm-password")
        message = browser.wait_for("the refusal", "document.querySelector('#login-error') && document.querySelector('#login-error').textContent")
        if "Wrong password" not in message:
            raise StepFailed(f"unexpected refusal message: {message!r}")
        if not browser.evaluate("location.pathname").endswith("/login"):
            raise StepFailed("a wrong password left the login page")
        if any(c["name"] == "fsdfs_ui" for c in browser.cookies(base)):
            raise StepFailed("a wrong password got a session cookie")
        print("ok: a wrong password is refused (still on the login page, no session cookie)")

        # 2. The right password: the dashboard, with an HttpOnly, SameSite=Strict cookie.
        log_in(browser, base, args.password)
        browser.wait_for("the overview", "location.pathname.endsWith('/ui/') && !!document.querySelector('#ov-minkn')")
        cookie = next((c for c in browser.cookies(base) if c["name"] == "fsdfs_ui"), None)
        if not cookie or not cookie.get("httpOnly") or cookie.get("sameSite") != "Strict" or cookie.get("path") != "/ui/":
            raise StepFailed(f"session cookie missing or without its flags: {cookie}")
        if "password" in browser.evaluate("location.href") or args.password in browser.evaluate("location.href"):
            raise StepFailed("the password ended up in the URL")
        print("ok: the right password logs in (cookie HttpOnly, SameSite=Strict, Path=/ui/)")

        # 3. The overview shows min(K-N) and what it means.
        figure = browser.wait_for("min(K-N) on the overview", "(() => { const t = document.querySelector('#ov-minkn').textContent; return t !== '–' && t; })()")
        meaning = browser.evaluate("document.querySelector('#ov-meaning').textContent")
        pill = browser.evaluate("document.querySelector('#health-figure').textContent")
        print(f"ok: the overview shows min(K-N) = {figure} ({meaning}); top bar: {pill}")
        if args.screenshot:
            browser.wait_for("the chart", "!!document.querySelector('#chart svg, #chart .chart-empty')")
            browser.screenshot(args.screenshot)
            print(f"ok: screenshot of the overview saved to {args.screenshot}")
            if args.phone_screenshot:
                browser.screenshot(args.phone_screenshot, 390, 844)
                browser.screenshot(args.screenshot + ".tmp.png")  # back to the laptop size
                os.unlink(args.screenshot + ".tmp.png")
        if args.screenshot_only:
            return

        # 4. Upload through the file input; the progress bar reaches 100%.
        local = os.path.join(downloads, "upload-source.bin")
        content = os.urandom(args.size)
        with open(local, "wb") as out:
            out.write(content)
        remote = args.remote
        browser.navigate(base + "#/files")
        browser.wait_for("the file browser", "!document.querySelector('#page-files').hidden")
        node = browser.page("DOM.querySelector", {"nodeId": browser.page("DOM.getDocument")["root"]["nodeId"], "selector": "#file-input"})["nodeId"]
        browser.page("DOM.setFileInputFiles", {"files": [local], "nodeId": node})
        browser.wait_for("the upload path to be suggested", "document.querySelector('#upload-path').value === 'upload-source.bin'")
        browser.evaluate(f"(() => {{ const p = document.querySelector('#upload-path'); p.value = {js(remote)}; p.dispatchEvent(new Event('input')); return true; }})()")
        browser.wait_for("the upload button", "!document.querySelector('#upload-button').disabled")
        browser.evaluate("document.querySelector('#upload-button').click(); true")
        status = browser.wait_for(
            "the upload to finish",
            "(() => { const s = document.querySelector('#upload-status'); return (s.textContent.startsWith('Stored') || s.classList.contains('error')) && s.textContent; })()",
            timeout=120)
        if not status.startswith("Stored"):
            raise StepFailed(f"upload failed: {status}")
        progress = browser.evaluate("document.querySelector('#upload-progress').getAttribute('aria-valuenow')")
        if progress != "100":
            raise StepFailed(f"the progress bar ended at {progress}%")
        print(f"ok: uploaded {len(content)} bytes to {remote}, progress 100% ({status})")

        # 5. In the file browser its K reaches N.
        row = f"document.querySelector('tr[data-path=' + CSS.escape({js(remote)}) + ']')"
        kn = browser.wait_for(
            "K to reach N in the file browser",
            f"(() => {{ const r = {row}; return r && Number(r.dataset.k) >= Number(r.dataset.n) && Number(r.dataset.n) > 0 && (r.dataset.k + '/' + r.dataset.n); }})()",
            timeout=120)
        holders = browser.evaluate(f"{row}.querySelectorAll('.chip').length")
        print(f"ok: K reached N in the file browser (K/N = {kn}, {holders} holders listed)")

        # 6. Download it: the same bytes.
        browser.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads, "eventsEnabled": True})
        browser.evaluate(f"{row}.querySelector('a.download').click(); true")
        name = remote.split("/")[-1]
        target = os.path.join(downloads, name)
        deadline = time.time() + 60
        while not (os.path.exists(target) and os.path.getsize(target) == len(content)
                   and not any(f.endswith(".crdownload") for f in os.listdir(downloads))):
            if time.time() > deadline:
                raise StepFailed(f"the download did not complete: {os.listdir(downloads)}")
            time.sleep(0.1)  # poll interval, bounded by the deadline
        with open(target, "rb") as got:
            if got.read() != content:
                raise StepFailed("the downloaded bytes differ from the uploaded ones")
        print(f"ok: downloaded {name}, same {len(content)} bytes")

        # 7. Delete it after confirming: gone from the list.
        browser.evaluate(f"{row}.querySelector('button.delete').click(); true")
        browser.wait_for("the confirmation dialog", "document.querySelector('#confirm-delete').open")
        shown = browser.evaluate("document.querySelector('#delete-path').textContent")
        if shown != remote:
            raise StepFailed(f"the dialog names {shown!r}, not {remote!r}")
        browser.evaluate("document.querySelector('#delete-confirm').click(); true")
        browser.wait_for("the file to leave the list", f"!{row} && document.querySelector('#upload-status').textContent.startsWith('Deleted')")
        print(f"ok: deleted {remote} after confirming; gone from the list")

        if args.fsdfsd:
            environment = dict(os.environ, FSDFS_SECRET=args.password, FSDFS_MASTER=args.master or origin.netloc)
            listed = subprocess.run([args.fsdfsd, "ls", "--json"], env=environment, capture_output=True, text=True, timeout=60)
            if listed.returncode != 0:
                raise StepFailed(f"fsdfsd ls failed: {listed.stderr}")
            if any(entry["path"] == remote for entry in json.loads(listed.stdout)):
                raise StepFailed(f"fsdfsd ls still lists {remote}")
            print(f"ok: fsdfsd ls no longer lists {remote}")
    finally:
        browser.close()
        shutil.rmtree(downloads, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the dashboard, e.g. http://127.0.0.1:4242/ui/")
    parser.add_argument("--password", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--fsdfsd", help="fsdfsd binary, to check `fsdfsd ls` after the delete")
    parser.add_argument("--master", help="the master for fsdfsd (default: the URL's host:port)")
    parser.add_argument("--remote", default="browser/uploaded.bin", help="path to upload to")
    parser.add_argument("--size", type=int, default=3 * 1024 * 1024 + 17, help="bytes to upload")
    parser.add_argument("--screenshot", help="save a 1280x800 screenshot of the overview here")
    parser.add_argument("--phone-screenshot", help="also save a 390x844 one here")
    parser.add_argument("--screenshot-only", action="store_true", help="log in, take the screenshot, stop")
    args = parser.parse_args()
    try:
        run(args)
    except StepFailed as error:
        print(f"FAILED: {error}")
        return 1
    print("dashboard: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
