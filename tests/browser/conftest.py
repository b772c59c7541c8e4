import os

import pytest

import harness


@pytest.fixture(scope="session")
def host():
    h = harness.Host()
    yield h
    h.stop()


@pytest.fixture(scope="session")
def radius(host):
    """FreeRADIUS for the demo tenant (harness.Radius), or None where it is not installed: then
    a test skips its FreeRADIUS leg visibly, unless KONNEKTED_REQUIRE_FREERADIUS is set (the test
    command sets it), which makes it fail."""
    missing = harness.freeradius_missing()
    if missing:
        if os.environ.get("KONNEKTED_REQUIRE_FREERADIUS"):
            pytest.fail(f"{missing}, and KONNEKTED_REQUIRE_FREERADIUS is set")
        yield None
        return
    r = harness.Radius(host)
    yield r
    r.stop()


@pytest.fixture(params=[True, False], ids=["js-on", "js-off"])
def js(request):
    return request.param


@pytest.fixture
def phone(js):
    d = harness.browser(js=js, size=harness.PHONE)
    yield d
    d.quit()
