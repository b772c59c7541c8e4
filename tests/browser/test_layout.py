"""The frame every page shares: the language switch, branding and the not-found page, in a real
browser at 360 px with JavaScript on and off."""

import harness
from selenium.webdriver.common.by import By


def test_unknown_page_is_a_branded_404_with_a_working_language_switch(host, phone, js):
    suite = "layout"
    tag = "js-on" if js else "js-off"
    phone.get(host.base + "/p/demo/no-such-page")
    assert phone.find_element(By.TAG_NAME, "h1").text == "Page not found"
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    harness.shot(phone, suite, f"not-found-en-{tag}")
    phone.find_element(By.LINK_TEXT, "Kiswahili").click()
    assert phone.find_element(By.TAG_NAME, "h1").text == "Ukurasa haukupatikana"
    # The choice is remembered by a cookie: the next page is in Swahili without ?lang=.
    phone.get(host.base + "/p/demo/another")
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sw"
    harness.shot(phone, suite, f"not-found-sw-{tag}")
    status, body, headers = host.get("/p/demo/no-such-page")
    assert status == 404
    assert "script-src 'none'" in headers["Content-Security-Policy"]
    harness.record_weight(suite, "not-found", len(body), harness.CAPTIVE_BUDGET)
