"""The SDK's tests run the Python client against a real daemon (real VMs),
started by the shared e2e helpers (tests/e2e/conftest.py)."""
import importlib.util
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "clients" / "python"))

_spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
Daemon = e2e.Daemon


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    d.cleanup()


@pytest.fixture
def env_for(monkeypatch):
    """Points the client at a daemon the way a user would: ENCLAVE_ADDR and
    ENCLAVE_HOME (the token is read from $ENCLAVE_HOME/run/api-token)."""
    def setup(d):
        for k in ("ENCLAVE_TOKEN", "ENCLAVE_SOCKET"):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("ENCLAVE_ADDR", d.addr)
        monkeypatch.setenv("ENCLAVE_HOME", d.home)
    return setup
