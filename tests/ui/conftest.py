"""Fixtures for the Web UI tests: a real daemon (tests/e2e's Daemon) booting
real VMs, and headless Chromium driven by Selenium (Debian's chromium,
chromium-driver and python3-selenium)."""
import importlib.util
import os

import pytest

# tests/e2e/conftest.py, under a name of its own (both files are "conftest").
_spec = importlib.util.spec_from_file_location(
    "e2e_conftest", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
Daemon, vmm_pids, ConnectError = e2e.Daemon, e2e.vmm_pids, e2e.ConnectError

SHOTS = os.environ.get("ENCLAVE_UI_SHOTS",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "ui"))


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


def make_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--no-proxy-server"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


@pytest.fixture
def browser():
    b = make_browser()
    yield b
    b.quit()


@pytest.fixture(scope="module")
def shots():
    os.makedirs(SHOTS, exist_ok=True)
    return SHOTS
