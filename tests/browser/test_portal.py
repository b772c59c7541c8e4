"""The subscriber portal in a real browser at 360 px, JavaScript on and off: sign in with the code
read from the SMS outbox (the development sink), pay through the demo's Daraja simulator until the
balance moves, change plan after reading its quote, open a receipt and the printable statement,
add and remove a device, ask for help and reply, sign out."""

import time

import harness
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SUITE = "portal"
WANJIKU = "ACC1001"
WANJIKU_MSISDN = "254708374149"


def wait_for(pred, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return None


def gone(element):
    """Whether the page holding `element` has been replaced. Chromium answers a question about a
    node of a page being torn down either as a stale reference or, mid-navigation, as an inspector
    error ("Node with given id does not belong to the document"): both mean the old page is gone,
    where selenium's own staleness_of lets the second escape as a failure."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e) or "no such" in str(e).lower():
            return True
        raise


def go(d, element):
    """Clicks a link or button and waits until the next page has replaced this one."""
    old = d.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(d, 30).until(lambda _drv: gone(old))
    WebDriverWait(d, 30).until(lambda drv: drv.execute_script("return document.readyState") == "complete")


def weigh(d, page, tag):
    harness.record_weight(SUITE, f"{page}-{tag}", len(d.page_source.encode()), harness.PORTAL_BUDGET)


def fits_360(d, js):
    if js:
        assert d.execute_script("return document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"


def code_from_sink(host, before_id):
    """The newest code sent to Wanjiku that is not `before_id`'s."""
    def newest():
        status, msgs = host.api("GET", f"/api/t/demo/sms-outbox?to={WANJIKU_MSISDN}&limit=1")
        assert status == 200, msgs
        return msgs[0] if msgs and msgs[0]["id"] != before_id else None
    msg = wait_for(newest, secs=10)
    assert msg, "no SMS with a code reached the outbox"
    return next(w.rstrip(".") for w in msg["body"].split() if len(w.rstrip(".")) == 6 and w.rstrip(".").isdigit())


def balance(host):
    status, s = host.api("GET", f"/api/t/demo/subscribers/{WANJIKU}")
    assert status == 200, s
    return s["balance_cents"]


def test_sign_in_by_code_pay_change_plan_and_read_a_receipt(host, phone, js):
    tag = "js-on" if js else "js-off"
    d = phone
    # Start Wanjiku on the dearest home plan (an operator's change), so moving to the cheapest is
    # a downgrade her unused days always cover: the quote has a confirm button.
    status, plans = host.api("GET", "/api/t/demo/plans")
    assert status == 200, plans
    home = sorted((p for p in plans if p["kind"] == "pppoe" and p["active"]), key=lambda p: p["price_cents"])
    cheapest, dearest = home[0], home[-1]
    status, s = host.api("PATCH", f"/api/t/demo/subscribers/{WANJIKU}", {"plan": dearest["code"]})
    assert status == 200, s

    status, last = host.api("GET", f"/api/t/demo/sms-outbox?to={WANJIKU_MSISDN}&limit=1")
    before_sms = last[0]["id"] if last else None

    d.get(f"{host.base}/p/demo")
    assert d.current_url.endswith("/p/demo/login"), d.current_url
    harness.shot(d, SUITE, f"1-sign-in-{tag}")
    weigh(d, "sign-in", tag)
    fits_360(d, js)
    d.find_element(By.ID, "who").send_keys(WANJIKU)
    go(d, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "/p/demo/verify" in d.current_url, d.current_url
    code = code_from_sink(host, before_sms)
    harness.shot(d, SUITE, f"2-code-{tag}")
    weigh(d, "code", tag)
    d.find_element(By.ID, "code").send_keys(code)
    go(d, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert d.current_url.endswith("/p/demo/home"), d.current_url + d.find_element(By.TAG_NAME, "main").text
    assert "Wanjiku" in d.find_element(By.TAG_NAME, "h1").text
    harness.shot(d, SUITE, f"3-home-{tag}")
    weigh(d, "home", tag)
    fits_360(d, js)

    # Pay KES 100 with M-Pesa; the simulator enters the PIN and the waiting page refreshes itself.
    was = balance(host)
    go(d, d.find_element(By.PARTIAL_LINK_TEXT, "Pay now"))
    amount = d.find_element(By.ID, "amount")
    amount.clear()
    amount.send_keys("100")
    harness.shot(d, SUITE, f"4-pay-{tag}")
    weigh(d, "pay", tag)
    go(d, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "/p/demo/topup/" in d.current_url, d.find_element(By.TAG_NAME, "main").text
    if "Waiting" in d.page_source:
        harness.shot(d, SUITE, f"5-waiting-{tag}")
        weigh(d, "waiting", tag)
    def received():
        try:
            return "Payment received" in d.page_source
        except Exception:  # the page was replaced while reading it (the refresh)
            return False
    paid = wait_for(received, secs=40)
    assert paid, "the payment never showed as received: " + d.find_element(By.TAG_NAME, "main").text
    harness.shot(d, SUITE, f"6-paid-{tag}")
    assert wait_for(lambda: balance(host) != was, secs=10), "the balance did not move"

    # Plan change: read the quote, then confirm.
    go(d, d.find_element(By.LINK_TEXT, "Plans"))
    harness.shot(d, SUITE, f"7-plans-{tag}")
    weigh(d, "plans", tag)
    go(d, d.find_element(By.CSS_SELECTOR, f"a[href='/p/demo/plans/{cheapest['id']}']"))
    assert "Unused days" in d.page_source, d.find_element(By.TAG_NAME, "main").text
    harness.shot(d, SUITE, f"8-quote-{tag}")
    weigh(d, "quote", tag)
    fits_360(d, js)
    go(d, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "Your plan has been changed" in d.page_source, d.find_element(By.TAG_NAME, "main").text
    assert cheapest["name"] in d.page_source
    status, s = host.api("GET", f"/api/t/demo/subscribers/{WANJIKU}")
    assert s["plan_id"] == cheapest["id"], s

    # Payments and a receipt.
    go(d, d.find_element(By.LINK_TEXT, "Payments"))
    harness.shot(d, SUITE, f"9-payments-{tag}")
    weigh(d, "payments", tag)
    go(d, d.find_element(By.CSS_SELECTOR, "td a[href^='/p/demo/payments/']"))
    assert "Receipt" in d.find_element(By.TAG_NAME, "h1").text
    harness.shot(d, SUITE, f"10-receipt-{tag}")
    weigh(d, "receipt", tag)

    # The printable statement, from the payments page.
    go(d, d.find_element(By.LINK_TEXT, "Payments"))
    go(d, d.find_element(By.CSS_SELECTOR, "a[href='/p/demo/statement']"))
    assert "Statement" in d.find_element(By.TAG_NAME, "h1").text
    harness.shot(d, SUITE, f"11-statement-{tag}")
    weigh(d, "statement", tag)
    fits_360(d, js)

    # Devices: add one, see it, remove it.
    go(d, d.find_element(By.LINK_TEXT, "My account"))
    go(d, d.find_element(By.CSS_SELECTOR, "a[href='/p/demo/devices']"))
    mac = "02:00:00:00:10:01" if js else "02:00:00:00:10:02"
    d.find_element(By.ID, "mac").send_keys(mac.lower())
    d.find_element(By.ID, "name").send_keys("Simu ya Wanjiku")
    go(d, d.find_element(By.CSS_SELECTOR, "form[action='/p/demo/devices'] button"))
    assert mac in d.page_source and "Simu ya Wanjiku" in d.page_source, d.find_element(By.TAG_NAME, "main").text
    harness.shot(d, SUITE, f"12-devices-{tag}")
    weigh(d, "devices", tag)
    fits_360(d, js)
    go(d, d.find_element(By.CSS_SELECTOR, f"form[action='/p/demo/devices/{mac}/remove'] button"))
    assert mac not in d.page_source

    # Help: ask a question, read it, reply.
    go(d, d.find_element(By.LINK_TEXT, "My account"))
    go(d, d.find_element(By.CSS_SELECTOR, "a[href='/p/demo/tickets']"))
    d.find_element(By.ID, "subject").send_keys("Internet ni polepole")
    d.find_element(By.ID, "message").send_keys("Since Monday evening.")
    go(d, d.find_element(By.CSS_SELECTOR, "form[action='/p/demo/tickets'] button"))
    assert "Internet ni polepole" in d.find_element(By.TAG_NAME, "h1").text
    d.find_element(By.ID, "message").send_keys("Still slow today.")
    go(d, d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "Still slow today." in d.page_source
    harness.shot(d, SUITE, f"13-ticket-{tag}")
    weigh(d, "ticket", tag)
    fits_360(d, js)

    # Sign out: home asks to sign in again.
    go(d, d.find_element(By.LINK_TEXT, "My account"))
    go(d, d.find_element(By.CSS_SELECTOR, "form[action='/p/demo/logout'] button"))
    assert d.current_url.endswith("/p/demo/login"), d.current_url
    d.get(f"{host.base}/p/demo/home")
    assert d.current_url.endswith("/p/demo/login")
