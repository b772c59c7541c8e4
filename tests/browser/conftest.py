import pytest

import harness


@pytest.fixture(scope="session")
def host():
    h = harness.Host()
    yield h
    h.stop()


@pytest.fixture(params=[True, False], ids=["js-on", "js-off"])
def js(request):
    return request.param


@pytest.fixture
def phone(js):
    d = harness.browser(js=js, size=harness.PHONE)
    yield d
    d.quit()
