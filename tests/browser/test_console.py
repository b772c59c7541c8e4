"""The operator console in a real browser, on the demo tenant's 400 generated subscribers: the
owner signs in, finds a subscriber, records cash, assigns an unmatched payment, makes and prints
a voucher batch and opens the dashboard; checks an SMS broadcast before sending it; at 360 px with JavaScript on and off, and at desktop
width. At 360 px no console page scrolls sideways (the tab bar wraps, wide tables scroll in their
own box or turn into stacked rows). Screenshots under target/screenshots/console/."""

import re
import time

import harness
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By

SUITE = "console"
OWNER = ("owner@demo", "demo-owner-pass")
SECTIONS = ["dashboard", "subscribers", "payments", "unmatched", "plans", "tickets", "vouchers", "sms", "callbacks",
            "routers", "online", "settings", "users", "audit"]


@pytest.fixture(params=[("phone", True), ("phone", False), ("desktop", True)],
                ids=["phone-js-on", "phone-js-off", "desktop-js-on"])
def screen(request):
    kind, js = request.param
    size = harness.PHONE if kind == "phone" else harness.DESKTOP
    d = harness.browser(js=js, size=size)
    yield d, f"{kind}-{'js-on' if js else 'js-off'}", js, size
    d.quit()


def sign_in(d, host):
    """Signs the owner in; the demo seeds the owner last, so a fresh host may need a moment."""
    deadline = time.time() + 90
    while True:
        d.get(f"{host.base}/c/demo/login")
        d.find_element(By.ID, "login").send_keys(OWNER[0])
        d.find_element(By.ID, "password").send_keys(OWNER[1])
        d.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        if "/login" not in d.current_url:
            return
        assert time.time() < deadline, "the demo owner could not sign in: " + d.page_source[:1500]
        time.sleep(1)


def until(pred, secs=15):
    """Polls `pred`; a page being replaced mid-question (a stale or half-torn-down node) is asked again."""
    deadline = time.time() + secs
    while True:
        try:
            if pred():
                return
        except (StaleElementReferenceException, NoSuchElementException):
            pass
        except WebDriverException as e:
            if "does not belong to the document" not in str(e):
                raise
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.2)


def fits(d, size):
    """Nothing on the page is wider than the screen (checked with JavaScript, when it runs)."""
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= size[0], f"{d.current_url} scrolls sideways: {width} px wide at {size[0]} px"


def check(d, tag, step, size, js):
    harness.shot(d, SUITE, f"{step}-{tag}")
    harness.record_weight(SUITE, f"{step}-{tag}", len(d.page_source.encode()), harness.CONSOLE_BUDGET)
    if js:
        fits(d, size)


def notice(d, want, secs=15):
    """The notice after a form's POST -> 303 -> GET (waits for the next page to show it)."""
    deadline = time.time() + secs
    while True:
        text = " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".notice"))
        if want in text or time.time() > deadline:
            return text
        time.sleep(0.2)


def test_owner_finds_a_subscriber_takes_cash_assigns_a_payment_prints_vouchers_and_reads_the_dashboard(host, screen):
    d, tag, js, size = screen
    sign_in(d, host)
    assert d.current_url.endswith("/c/demo/dashboard"), d.current_url
    check(d, tag, "1-dashboard", size, js)
    assert "MRR" in d.find_element(By.TAG_NAME, "main").text
    # every chart has its numbers one click away
    assert d.find_elements(By.CSS_SELECTOR, "main details table")

    # find a subscriber by phone number
    d.find_element(By.LINK_TEXT, "Subscribers").click()
    until(lambda: d.current_url.endswith("/subscribers"))
    box = d.find_element(By.ID, "q")
    box.send_keys("254710000007")
    d.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()
    until(lambda: "q=254710000007" in d.current_url)
    rows = d.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert len(rows) == 1, d.find_element(By.TAG_NAME, "main").text[:800]
    check(d, tag, "2-search", size, js)
    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    until(lambda: "ACC2007" in d.find_element(By.TAG_NAME, "h1").text)
    assert "ACC2007" in d.find_element(By.TAG_NAME, "h1").text

    # record cash (the balance may renew the plan at once: the ledger shows the payment either way)
    amount = d.find_element(By.ID, "amount")
    amount.send_keys("750")
    memo = d.find_element(By.ID, "memo")
    memo.clear()
    memo.send_keys(f"browser test {tag}")
    amount.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    assert "Cash recorded" in notice(d, "Cash recorded")
    line = d.find_element(By.XPATH, f"//main//table//tr[td[contains(., 'browser test {tag}')]]")
    assert "KES 750" in line.text, line.text
    check(d, tag, "3-cash", size, js)

    # assign the oldest unmatched payment to this subscriber
    d.find_element(By.LINK_TEXT, "Unmatched").click()
    until(lambda: d.current_url.endswith("/unmatched"))
    check(d, tag, "4-unmatched", size, js)
    cards = d.find_elements(By.CSS_SELECTOR, "main div.card")
    assert cards, "the demo has unmatched payments"
    before = len(cards)
    field = cards[0].find_element(By.CSS_SELECTOR, "input[name=subscriber]")
    field.send_keys("ACC2007")
    field.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    assert "assigned" in notice(d, "assigned")
    assert len(d.find_elements(By.CSS_SELECTOR, "main div.card")) == before - 1

    # a voucher batch: make it, then print it
    d.find_element(By.LINK_TEXT, "Vouchers").click()
    until(lambda: d.current_url.endswith("/vouchers"))
    d.find_element(By.ID, "v_count").send_keys("12")
    d.find_element(By.ID, "v_price").send_keys("20")
    d.find_element(By.ID, "v_agent").send_keys(f"Mama Mboga {tag}")
    d.find_element(By.ID, "v_note").send_keys(f"browser {tag}")
    d.find_element(By.CSS_SELECTOR, "form[action='/c/demo/vouchers'] button").click()
    assert "Created" in notice(d, "Created"), d.find_element(By.TAG_NAME, "main").text[:800]
    row = d.find_element(By.XPATH, f"//main//table//tr[td[contains(., 'Mama Mboga {tag}')]]")
    assert "KES 20" in row.text, row.text
    check(d, tag, "5-vouchers", size, js)
    href = row.find_element(By.LINK_TEXT, "A4").get_attribute("href")
    d.get(href)
    assert len(d.find_elements(By.CSS_SELECTOR, "svg")) >= 12, "a QR code per voucher"
    codes = re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", d.find_element(By.TAG_NAME, "body").text)
    assert len(set(codes)) == 12, codes
    harness.shot(d, SUITE, f"6-sheet-{tag}")

    # and back to the dashboard, in Swahili
    d.get(f"{host.base}/c/demo/dashboard?lang=sw")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sw"
    check(d, tag, "7-dashboard-sw", size, js)


def test_no_console_page_scrolls_sideways_at_360_px(host):
    d = harness.browser(js=True, size=harness.PHONE)
    try:
        sign_in(d, host)
        for s in SECTIONS:
            d.get(f"{host.base}/c/demo/{s}")
            assert d.find_element(By.TAG_NAME, "h1").text, s
            fits(d, harness.PHONE)
            # the tab bar shows every section without sideways scrolling
            tabs = d.find_elements(By.CSS_SELECTOR, "nav.tabs a")
            assert len(tabs) == len(SECTIONS)
            for a in tabs:
                r = a.rect
                assert r["x"] >= 0 and r["x"] + r["width"] <= harness.PHONE[0], (s, a.text, r)
        # the dashboard's "expiring this week" table: stacked rows, each cell labelled
        d.get(f"{host.base}/c/demo/dashboard")
        week = d.find_element(By.XPATH, "//h2[contains(., 'this week')]/following-sibling::div[1]//table")
        d.execute_script("arguments[0].scrollIntoView()", week)
        harness.shot(d, SUITE, "8-expiring-this-week-phone")
        cell = week.find_element(By.CSS_SELECTOR, "tbody td")
        assert cell.rect["width"] >= 300, "a stacked row spans the screen, not a squeezed column"
        assert d.execute_script("return getComputedStyle(arguments[0], '::before').content", cell) != "none"
        # the whole dashboard fits a phone's few screens: the per-day tables and the rest of this
        # week's list are one click away (<details>, closed until asked)
        d.execute_script("window.scrollTo(0, 0)")
        height = d.execute_script("return document.documentElement.scrollHeight")
        harness.shot(d, SUITE, "20-dashboard-phone")
        assert height < 4000, f"the dashboard is {height} px long at 360 px"
        assert len(d.find_elements(By.CSS_SELECTOR, "main details table")) >= 4
        # a subscriber's ledger stacks into labelled rows like the dashboard's tables
        d.get(f"{host.base}/c/demo/subscribers?q=254710000007")
        d.find_element(By.CSS_SELECTOR, "main table tbody tr a").click()
        until(lambda: "ACC2007" in d.find_element(By.TAG_NAME, "h1").text)
        fits(d, harness.PHONE)
        ledger = d.find_element(By.XPATH, "//h2[contains(., 'Ledger')]/following-sibling::div[1]//table")
        d.execute_script("arguments[0].scrollIntoView()", ledger)
        harness.shot(d, SUITE, "21-subscriber-ledger-phone")
        cell = ledger.find_element(By.CSS_SELECTOR, "tbody td")
        assert cell.rect["width"] >= 300, "a ledger entry spans the screen, not a squeezed column"
        assert d.execute_script("return getComputedStyle(arguments[0], '::before').content", cell) != "none"
    finally:
        d.quit()


def test_the_platform_operator_sees_every_tenant_and_suspends_and_resumes_one(host, screen):
    d, tag, js, size = screen
    d.get(f"{host.base}/platform/tenants")
    assert d.current_url.endswith("/platform/login")
    d.find_element(By.ID, "token").send_keys("demo-platform-token")
    d.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    until(lambda: d.current_url.endswith("/platform/tenants"))
    row = d.find_element(By.XPATH, "//main//table//tr[td[contains(., 'demo')]]")
    assert "Active" in row.text, row.text
    check(d, tag, "9-platform", size, js)
    row.find_element(By.XPATH, ".//button[text()='Suspend']").click()
    resume = "//main//table//tr[td[contains(., 'demo')]]//button[text()='Resume']"
    try:
        assert "Tenant suspended" in notice(d, "Tenant suspended")
        status, _, _ = host.get("/c/demo/login")
        assert status == 404, "a suspended tenant's console is gone"
    finally:
        # the other suites share this host's demo tenant: resume it whatever happened above
        d.get(f"{host.base}/platform/tenants")
        d.find_element(By.XPATH, resume).click()
    assert "resumed" in notice(d, "resumed")
    status, _, _ = host.get("/c/demo/login")
    assert status == 200


def test_staff_answer_a_subscribers_ticket(host):
    """A demo subscriber asks for help through the customer API; the owner reads and answers it
    on the console's tickets page (phone width, JavaScript off) and the subscriber sees the reply."""
    phone, msisdn = "0710000011", "254710000011"
    status, ch = host.api("POST", "/api/p/demo/v1/auth/otp", {"phone": phone})
    assert status == 202, ch
    status, msgs = host.api("GET", f"/api/t/demo/sms-outbox?to={msisdn}&limit=1")
    code = re.search(r"\b\d{6}\b", msgs[0]["body"]).group(0)
    status, tok = host.api("POST", "/api/p/demo/v1/auth/otp/verify", {"challenge_id": ch["challenge_id"], "code": code})
    assert status == 200, tok
    access = tok["access_token"]
    subject = f"No internet since morning {int(time.time())}"
    status, t = host.api("POST", "/api/p/demo/v1/tickets", {"subject": subject, "message": "The light is red."},
                         token=access)
    assert status == 201, t

    d = harness.browser(js=False, size=harness.PHONE)
    try:
        sign_in(d, host)
        d.find_element(By.LINK_TEXT, "Tickets").click()
        until(lambda: d.current_url.endswith("/tickets"))
        check(d, "phone-js-off", "10-tickets", harness.PHONE, False)
        d.find_element(By.LINK_TEXT, subject).click()
        until(lambda: subject in d.find_element(By.TAG_NAME, "h1").text)
        assert "The light is red." in d.find_element(By.TAG_NAME, "main").text
        d.find_element(By.ID, "reply").send_keys("A technician is on the way.")
        d.find_element(By.CSS_SELECTOR, "form[action$='/reply'] button").click()
        assert "Reply sent" in notice(d, "Reply sent")
        check(d, "phone-js-off", "11-ticket-answered", harness.PHONE, False)
    finally:
        d.quit()
    status, t = host.api("GET", f"/api/p/demo/v1/tickets/{t['id']}", token=access)
    assert t["status"] == "answered" and t["messages"][-1]["body"] == "A technician is on the way.", t


def test_owner_checks_an_sms_broadcast_before_sending_it(host):
    """The SMS page at phone width: the outbox and costs, then a broadcast to subscribers whose
    time ends within 3 days, shown with its recipients, segments and estimated cost before it is
    sent (and not sent here: other suites share the demo tenant)."""
    d = harness.browser(js=True, size=harness.PHONE)
    try:
        sign_in(d, host)
        d.find_element(By.LINK_TEXT, "SMS").click()
        until(lambda: d.current_url.endswith("/sms"))
        check(d, "phone-js-on", "12-sms", harness.PHONE, True)
        assert d.find_element(By.ID, "costs")
        d.find_element(By.LINK_TEXT, "New broadcast").click()
        until(lambda: d.current_url.endswith("/sms/broadcast"))
        d.find_element(By.CSS_SELECTOR, "input[name=audience][value=expiring]").click()
        d.find_element(By.ID, "b_en").send_keys("Pay today and get 2 extra days!")
        d.find_element(By.ID, "b_sw").send_keys("Lipa leo upate siku 2 za ziada!")
        d.find_element(By.CSS_SELECTOR, "form[action$='/sms/broadcast'] button[type=submit]").click()
        until(lambda: d.find_elements(By.ID, "b_recipients"))
        check(d, "phone-js-on", "13-sms-check", harness.PHONE, True)
        assert re.fullmatch(r"\d+", d.find_element(By.ID, "b_recipients").text.split()[0])
        assert d.find_element(By.ID, "b_cost").text.startswith("KES ")
        assert "To stop offers reply STOP." in d.find_element(By.TAG_NAME, "main").text
        assert d.find_element(By.CSS_SELECTOR, "button[name=step][value=send]")
    finally:
        d.quit()
