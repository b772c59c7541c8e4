"""Shared harness of the browser suites: a native Konnekted host on the demo tenant, headless
Chromium (Debian's package, driven by chromedriver through selenium) with JavaScript on or off at
360 px or desktop width, screenshots under target/screenshots/<suite>/<step>.png, and page weights.

Every suite uses the fixtures of conftest.py; nothing here is specific to one area."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
SCREENSHOTS = TARGET / "screenshots"
PHONE = (360, 740)
DESKTOP = (1280, 900)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_pair():
    """Two consecutive free UDP ports on loopback (FreeRADIUS's authentication and accounting)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port, port + 1
    raise RuntimeError("no free UDP port pair")


class Host:
    """`konnekted serve --demo` on a free port with its own data folder; stopped by `stop()`."""

    def __init__(self, extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.mkdtemp(prefix="konnekted-browser-")
        binary = os.environ.get("KONNEKTED_BIN", str(TARGET / "debug" / "konnekted"))
        env = dict(os.environ, **(extra_env or {}))
        self.log_path = Path(self.data) / "host.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--demo", "--data", self.data, "--listen", f"127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"host exited: {self.log_path.read_text()}")
            time.sleep(0.2)
        raise RuntimeError("host did not answer /health within 60 s")

    def get(self, path, headers=None):
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            # The headers as a message: names are looked up case-insensitively (the host sends them
            # in lower case), e.g. headers["Content-Security-Policy"].
            return e.code, e.read(), e.headers

    def api(self, method, path, body=None, token="demo-admin-token"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# The demo ISP's sync key (functions/native/src/demo.rs): FreeRADIUS's voucher key derives from it.
DEMO_SYNC_KEY = "demo-sync-key-0123456789abcdef"


def freeradius_missing():
    """Why FreeRADIUS cannot run here (None: it can): `freeradius` and `radclient` on PATH."""
    missing = [b for b in ("freeradius", "radclient") if shutil.which(b) is None]
    return f"{' and '.join(missing)} not installed (bash radius-sql/tests/setup.sh)" if missing else None


class Radius:
    """A real FreeRADIUS for the demo tenant of `host`, on the configuration radius-sql generates
    (`konnekted-radius local`: the tenant's RADIUS database an SQLite file, codes it does not hold
    asked of the host's `POST /radius/voucher` with the demo's voucher key), started as this user
    with `freeradius -f` on free ports; `radclient` plays the router (NAS 127.0.0.1)."""

    SECRET = "browser-nas-secret"
    REALM = "demo"

    def __init__(self, host):
        self.dir = Path(host.data) / "radius"
        self.auth_port, _ = free_udp_pair()
        binary = os.environ.get("KONNEKTED_RADIUS_BIN", str(TARGET / "debug" / "konnekted-radius"))
        env = dict(os.environ, KONNEKTED_SYNC_KEY=DEMO_SYNC_KEY, KONNEKTED_RADIUS_NAS_SECRET=self.SECRET)
        gen = subprocess.run(
            [binary, "local", "--realm", self.REALM, "--dir", str(self.dir), "--edge-url", host.base,
             "--auth-port", str(self.auth_port), "--check"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        if gen.returncode != 0:
            raise RuntimeError(f"konnekted-radius local failed:\n{gen.stdout}\n{gen.stderr}")
        self.log_path = self.dir / "freeradius.out"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["freeradius", "-f", "-d", str(self.dir / "raddb")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            # Any answer will do: an unknown user of an unknown realm is rejected at once.
            if self.auth({"User-Name": "ping@nowhere", "User-Password": "x"}, timeout=1)[0]:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"FreeRADIUS did not answer on {self.auth_port}: {self.logs()}")

    def auth(self, attrs, timeout=5):
        """One Access-Request through `radclient` from the demo's NAS: (the reply's code, e.g.
        "Access-Accept" or "" if none, its attributes as a dict of strings, radclient's output).
        Values starting with 0x are sent as octets (CHAP-Password, CHAP-Challenge)."""
        lines = []
        for k, v in attrs.items():
            lines.append(f"{k} = {v}" if str(v).startswith("0x") else f'{k} = "{v}"')
        r = subprocess.run(
            ["radclient", "-x", "-r", "1", "-t", str(timeout), f"127.0.0.1:{self.auth_port}", "auth", self.SECRET],
            input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=timeout + 10,
        )
        out = r.stdout + r.stderr
        code, reply, in_reply = "", {}, False
        for line in out.splitlines():
            if line.startswith("Received "):
                code, in_reply = line.split()[1], True
            elif line.startswith("Sent "):
                in_reply = False
            elif in_reply and " = " in line:
                k, v = line.strip().split(" = ", 1)
                reply[k] = v.strip('"')
        return code, reply, out

    def logs(self):
        """FreeRADIUS's own log and its output, for a failure message."""
        radius_log = self.dir / "log" / "radius.log"
        text = radius_log.read_text() if radius_log.exists() else ""
        return text[-3000:] + self.log_path.read_text()[-2000:]

    def stop(self):
        # SIGKILL, as deploy/konnekted-radius@.service stops it: nothing is lost by it.
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


def browser(js=True, size=PHONE, lang="en"):
    """Headless Chromium; `js=False` turns JavaScript off for every page it opens."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={size[0]},{size[1]}", f"--lang={lang}", "--hide-scrollbars"):
        opts.add_argument(a)
    prefs = {"intl.accept_languages": lang}
    if not js:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    opts.add_experimental_option("prefs", prefs)
    d = webdriver.Chrome(options=opts, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))
    d.set_page_load_timeout(30)
    # The window's outer size includes no chrome in headless mode; make the viewport exact.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600})
    return d


def shot(driver, suite, step):
    """Saves the whole page (beyond the viewport) to target/screenshots/<suite>/<step>.png."""
    import base64

    out = SCREENSHOTS / suite
    out.mkdir(parents=True, exist_ok=True)
    m = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = m.get("cssContentSize") or m["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
    png = driver.execute_cdp_cmd("Page.captureScreenshot",
                                 {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = out / f"{step}.png"
    path.write_bytes(base64.b64decode(png["data"]))
    return path


def record_weight(suite, page, nbytes, budget):
    """Appends a page's weight to target/screenshots/<suite>/weights.tsv and checks its budget."""
    out = SCREENSHOTS / suite
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "weights.tsv", "a") as f:
        f.write(f"{page}\t{nbytes}\t{budget}\n")
    assert nbytes <= budget, f"{page} weighs {nbytes} bytes, over its budget of {budget}"


CAPTIVE_BUDGET = 30 * 1024
PORTAL_BUDGET = 50 * 1024
CONSOLE_BUDGET = 100 * 1024
