"""The captive portal in a real browser at 360 px, JavaScript on and off: pick a package, pay
through the demo's Daraja simulator, see the code, and get logged in by the form POST to the
router's link-login-only (a stub here that records what it received). Then what the router would
do with that POST: the recorded credentials go to a real FreeRADIUS for the demo tenant (the
configuration radius-sql generates, asking the host's POST /radius/voucher), sent by radclient as
the router, PAP or CHAP as recorded, and must be accepted with the package's terms."""

import hashlib
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
import pytest
from selenium.webdriver.common.by import By


def require(radius):
    """The FreeRADIUS fixture, or a visible skip of the rest of the test (conftest.py's `radius`)."""
    if radius is None:
        pytest.skip(f"SKIPPED the FreeRADIUS leg: {harness.freeradius_missing()}")
    return radius


def assert_accepted(radius, reply, seconds, rate):
    """Access-Accept with the package's time (less what has passed since its first use) and rate."""
    code, attrs, out = reply
    # Shown with pytest -s (or -rP): the reply as radclient printed it.
    print(out[out.find("Received"):])
    assert code == "Access-Accept", out + "\n" + radius.logs()
    timeout = int(attrs.get("Session-Timeout", "0"))
    assert seconds - 120 <= timeout <= seconds, f"Session-Timeout {timeout}, package {seconds} s: {out}"
    assert attrs.get("Mikrotik-Rate-Limit") == rate, out


class StubRouter:
    """A stand-in for the MikroTik's /login: records each POSTed form and answers 'logged in'."""

    def __init__(self):
        self.posts = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                stub.posts.append(urllib.parse.parse_qs(self.rfile.read(n).decode()))
                body = b"<!DOCTYPE html><html><body><h1 id='ok'>logged in</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def wait_for(pred, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return None


def test_buy_a_package_pay_by_mpesa_see_the_code_and_get_logged_in(host, phone, js, radius):
    suite = "captive"
    tag = "js-on" if js else "js-off"
    router = StubRouter()
    try:
        login = f"http://127.0.0.1:{router.port}/login"
        q = urllib.parse.urlencode({"mac": "02:11:22:33:44:55", "ip": "10.5.50.9",
                                    "link-login-only": login, "dst": "http://example.com/"})
        phone.get(f"{host.base}/h/demo?{q}")
        assert phone.find_element(By.TAG_NAME, "h1").text == "Get online"
        harness.shot(phone, suite, f"1-packages-{tag}")
        harness.record_weight(suite, f"packages-{tag}", len(phone.page_source.encode()), harness.CAPTIVE_BUDGET)
        # The page fits 360 px: nothing wider than the viewport.
        if js:
            assert phone.execute_script("return document.documentElement.scrollWidth") <= 360

        phone.find_element(By.PARTIAL_LINK_TEXT, "Buy for KES 10").click()
        assert "1 hour" in phone.find_element(By.TAG_NAME, "h1").text
        phone.find_element(By.ID, "phone").send_keys("0708374149")
        harness.shot(phone, suite, f"2-phone-{tag}")
        harness.record_weight(suite, f"buy-{tag}", len(phone.page_source.encode()), harness.CAPTIVE_BUDGET)
        phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

        # The waiting page refreshes itself (meta refresh, no JavaScript needed) until the code shows.
        code_el = wait_for(lambda: phone.find_elements(By.ID, "the-code"), secs=30)
        if not code_el:
            harness.shot(phone, suite, f"3-stuck-{tag}")
        assert code_el, "the code never appeared: " + phone.page_source[:2000]
        code = code_el[0].text.strip()
        assert len(code) == 14 and code.count("-") == 2, code
        harness.shot(phone, suite, f"3-code-{tag}")
        harness.record_weight(suite, f"code-{tag}", len(phone.page_source.encode()), harness.CAPTIVE_BUDGET)

        if not js:
            # Nothing submits by itself: the page says to tap.
            assert phone.find_element(By.ID, "tap-to-connect").is_displayed()
            phone.find_element(By.CSS_SELECTOR, "#login button").click()
        posted = wait_for(lambda: router.posts, secs=15)
        assert posted, "the login form never reached the router's link-login-only"
        form = posted[0]
        canonical = code.replace("-", "")  # what redemption stores and RADIUS knows
        assert form["username"] == [canonical], form
        assert form["password"] == [canonical], "PAP: the router sent no CHAP challenge"
        assert form["dst"] == ["http://example.com/"], form
        wait_for(lambda: phone.find_elements(By.ID, "ok"), secs=10)
        harness.shot(phone, suite, f"4-router-login-{tag}")
    finally:
        router.stop()

    # The router's Access-Request with what it received: PAP, the username with the realm the
    # router appends (the reconciler configures it in /radius), the device's MAC.
    radius = require(radius)
    user = form["username"][0]
    mac = "02:11:22:33:44:55"
    reply = radius.auth({"User-Name": f"{user}@{radius.REALM}", "User-Password": form["password"][0],
                         "Calling-Station-Id": mac, "NAS-IP-Address": "127.0.0.1"})
    # wifi-1h: 3600 s at 3 Mbit/s down, 1 Mbit/s up.
    assert_accepted(radius, reply, 3600, "1M/3M")
    # Not vacuous: a forged code (one character changed) is refused.
    forged = ("B" if user[0] == "A" else "A") + user[1:]
    code, _, out = radius.auth({"User-Name": f"{forged}@{radius.REALM}", "User-Password": forged,
                                "Calling-Station-Id": mac, "NAS-IP-Address": "127.0.0.1"})
    assert code == "Access-Reject", out


def test_a_typed_voucher_logs_in_by_chap(host, phone, js, radius):
    suite = "captive"
    tag = "js-on" if js else "js-off"
    status, batch = host.api("POST", "/api/t/demo/voucher-batches", {"plan": "wifi-15m", "count": 2})
    assert status == 201, batch
    bid = batch["batch"]["id"]
    status, codes = host.api("GET", f"/api/t/demo/voucher-batches/{bid}/codes")
    code = codes["codes"][1]["code"]
    router = StubRouter()
    # A chap-id below 32: radclient sends a 17-octet CHAP-Password as given only if one of its
    # octets is below 32 (else it takes it for a password and computes its own response).
    chap_id = b"\x11"
    challenge = "ef0dd80b119c65a5c3ab62a65b7dfdce"
    try:
        q = urllib.parse.urlencode({
            "mac": "02:11:22:33:44:66", "ip": "10.5.50.10",
            "link-login-only": f"http://127.0.0.1:{router.port}/login",
            "chap-id": "\\021",
            "chap-challenge": "\\357\\015\\330\\013\\021\\234\\145\\245\\303\\253\\142\\246\\133\\175\\375\\316",
        })
        phone.get(f"{host.base}/h/demo?{q}&code={code}")
        assert phone.find_element(By.ID, "code").get_attribute("value") == code
        harness.shot(phone, suite, f"5-voucher-{tag}")
        phone.find_element(By.CSS_SELECTOR, "form[action='/h/demo/voucher'] button").click()
        assert wait_for(lambda: phone.find_elements(By.ID, "the-code"), secs=10)
        harness.shot(phone, suite, f"6-voucher-code-{tag}")
        if not js:
            phone.find_element(By.CSS_SELECTOR, "#login button").click()
        posted = wait_for(lambda: router.posts, secs=15)
        assert posted, "no login POST"
        canonical = code.replace("-", "")
        want = hashlib.md5(chap_id + canonical.encode() + bytes.fromhex(challenge)).hexdigest()
        assert posted[0]["username"] == [canonical]
        assert posted[0]["password"] == [want], "the CHAP response is computed on the server"
    finally:
        router.stop()

    # The router's Access-Request: its challenge and the recorded response after the chap-id,
    # exactly as posted (radclient computes nothing here).
    radius = require(radius)
    user = posted[0]["username"][0]
    request = {"User-Name": f"{user}@{radius.REALM}", "CHAP-Challenge": "0x" + challenge,
               "CHAP-Password": "0x" + chap_id.hex() + posted[0]["password"][0],
               "Calling-Station-Id": "02:11:22:33:44:66", "NAS-IP-Address": "127.0.0.1"}
    # wifi-15m: 900 s at 2 Mbit/s down, 1 Mbit/s up.
    assert_accepted(radius, radius.auth(request), 900, "1M/2M")
    # Not vacuous: the same response to another challenge is refused.
    request["CHAP-Challenge"] = "0x" + "00" * 16
    code, _, out = radius.auth(request)
    assert code == "Access-Reject", out
