"""The Web UI in a real headless Chromium against a real daemon and real VMs."""
import json
import os
import tempfile
import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BOOT = 180  # a VM boots in seconds under KVM, slower under TCG on a loaded machine


def wait(browser, timeout=60):
    return WebDriverWait(browser, timeout, poll_frequency=0.2)


def css(browser, selector, timeout=60):
    return wait(browser, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))


def click(browser, selector, timeout=60):
    """Click what the selector finds. The sessions table is redrawn as sessions change, so an
    element found a moment ago may be gone: find it again and retry until the timeout."""
    def attempt(b):
        try:
            b.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except StaleElementReferenceException:
            return False
    wait(browser, timeout).until(attempt)


def text_in(browser, element_id, text, timeout=60):
    try:
        wait(browser, timeout).until(EC.text_to_be_present_in_element((By.ID, element_id), text))
    except Exception:
        shown = {i: browser.find_element(By.ID, i).text for i in
                 (element_id, "output", "denial", "new-session-status") if browser.find_elements(By.ID, i)}
        raise AssertionError(f"{text!r} not in #{element_id}: {shown}; console: {browser.get_log('browser')}")


def login(browser, daemon):
    browser.get(f"http://{daemon.addr}/login?token={daemon.token}")
    css(browser, "#sessions")


def start_session(browser, sid, intent=""):
    browser.find_element(By.ID, "new-id").clear()
    browser.find_element(By.ID, "new-id").send_keys(sid)
    Select(browser.find_element(By.ID, "new-intent")).select_by_value(intent)
    browser.find_element(By.ID, "new-session").click()
    css(browser, f'#sessions tr[data-session-id="{sid}"][data-status="READY"]', BOOT)
    click(browser, f'#sessions tr[data-session-id="{sid}"]')
    text_in(browser, "current-session", sid)


def panel(browser, name):
    browser.find_element(By.CSS_SELECTOR, f'nav button[data-panel="panel-{name}"]').click()


# ------------------------------------------------------------ failing closed

def test_page_fails_closed_without_cookie(daemon, browser, shots):
    # No cookie: the page and its script are refused, so nothing of the UI runs.
    browser.get(f"http://{daemon.addr}/")
    assert browser.find_elements(By.ID, "sessions") == []
    assert "no credential" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(os.path.join(shots, "no-cookie.png"))
    for path in ("/", "/ui/app.js", "/ui/app.css"):
        status, _, body = daemon.request("GET", path, auth=False)
        assert status == 401, (path, status, body)
    # A wrong token at /login sets nothing.
    status, headers, _ = daemon.request("GET", "/login?token=" + "0" * 64, auth=False)
    assert status == 401 and headers.get("Set-Cookie") is None


def test_foreign_origin_and_host_refused(daemon):
    for headers in ({"Origin": "http://evil.example"}, {"Origin": f"http://127.0.0.1:{daemon.port + 1}"},
                    {"Host": "evil.example"}):
        for path in ("/", "/ui/app.js"):
            status, _, _ = daemon.request("GET", path, headers=headers)
            assert status == 403, (path, headers, status)
    # A page on another site cannot use the cookie either: the Origin check
    # refuses the request before the cookie is looked at.
    login_status, headers, _ = daemon.request("GET", f"/login?token={daemon.token}", auth=False)
    cookie = headers["Set-Cookie"].split(";")[0]
    status, _, _ = daemon.request("POST", "/enclave.v1.Enclave/ListSessions", body=b"{}", auth=False,
                                  headers={"Cookie": cookie, "Content-Type": "application/json",
                                           "Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = daemon.request("POST", "/enclave.v1.Enclave/ListSessions", body=b"{}", auth=False,
                                  headers={"Cookie": cookie, "Content-Type": "application/json"})
    assert status == 200


def test_security_headers_and_login(daemon):
    status, headers, body = daemon.request("GET", f"/login?token={daemon.token}", auth=False)
    assert status == 303
    assert headers["Location"] == "/"  # the token does not linger in the address bar
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"enclave_session_{daemon.port}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    for path, ctype in (("/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
        status, headers, body = daemon.request("GET", path, auth=False,
                                               headers={"Cookie": cookie.split(";")[0]})
        assert status == 200 and headers["Content-Type"].startswith(ctype), path
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                          "img-src 'self' data:", "frame-ancestors 'none'"):
            assert directive in csp, (path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
    status, _, page = daemon.request("GET", "/")
    assert b"<script>" not in page and b"http://" not in page and b"https://" not in page
    status, _, _ = daemon.request("GET", "/ui/nothing.js")
    assert status == 404


# ------------------------------------------------------------ the walk-through

def test_walkthrough(daemon, browser, shots):
    login(browser, daemon)
    # The login redirect dropped the token, and the cookie is not readable.
    assert browser.current_url == f"http://{daemon.addr}/"
    assert daemon.token not in browser.current_url
    assert browser.execute_script("return document.cookie") == ""
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0

    start_session(browser, "ui-main")
    row = browser.find_element(By.CSS_SELECTOR, '#sessions tr[data-session-id="ui-main"]')
    assert "READY" in row.text

    # A Python cell: the output streams into #output.
    code = browser.find_element(By.ID, "code")
    code.clear()
    code.send_keys("print(6*7)")
    browser.find_element(By.ID, "run").click()
    text_in(browser, "output", "42", 120)

    # Rich results: a PNG as an image, HTML only in a sandboxed iframe.
    code.clear()
    code.send_keys(
        "import base64\n"
        "class P:\n"
        "    def _repr_png_(self):\n"
        "        return base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==')\n"
        "class H:\n"
        "    def _repr_html_(self):\n"
        "        return '<b id=\"x\">bold</b><script>parent.document.title=\"owned\"</script>'\n"
        "print('rich'); P()\n")
    browser.find_element(By.ID, "run").click()
    img = css(browser, "#output img", 120)
    assert img.get_attribute("src").startswith("data:image/png;base64,")
    code.clear()
    code.send_keys("H()")
    browser.find_element(By.ID, "run").click()
    frame = css(browser, "#output iframe", 120)
    assert frame.get_attribute("sandbox") == ""
    assert browser.title != "owned"
    assert browser.find_elements(By.CSS_SELECTOR, "#output b") == []  # never parsed into the page

    # Upload through the file input (the drop zone calls the same upload) and see it listed.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="hello-", delete=False) as f:
        f.write("hello from the browser\n")
    name = os.path.basename(f.name)
    try:
        browser.find_element(By.ID, "upload").send_keys(f.name)
        css(browser, f'#files li[data-name="{name}"]', 120)
    finally:
        os.unlink(f.name)
    status, _, body = daemon.get_file("ui-main", f"/workspace/{name}")
    assert (status, body) == (200, b"hello from the browser\n")
    # Dropping a file on the drop zone uploads it too.
    browser.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File(['dropped bytes'], 'dropped.txt', {type: 'text/plain'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    """)
    css(browser, '#files li[data-name="dropped.txt"]', 120)
    # The listed file downloads through its link (same origin, the cookie alone).
    link = browser.find_element(By.CSS_SELECTOR, '#files li[data-name="dropped.txt"] a')
    got = browser.execute_async_script(
        "fetch(arguments[0]).then(r => r.text()).then(arguments[1], e => arguments[1]('error: ' + e))",
        link.get_attribute("href"))
    assert got == "dropped bytes"

    # A command; its exec decision appears in the live audit list without a reload.
    cmd = browser.find_element(By.ID, "command")
    cmd.clear()
    cmd.send_keys(f"python3 -c \"print(open('/workspace/{name}').read())\"")
    browser.find_element(By.ID, "exec").click()
    text_in(browser, "output", "hello from the browser", 120)
    text_in(browser, "output", "[exit 0]", 60)
    browser.save_screenshot(os.path.join(shots, "sessions.png"))

    # A denial shows the policy's reasons: the constitution runs only python3.
    cmd.clear()
    cmd.send_keys("ls /workspace")
    browser.find_element(By.ID, "exec").click()
    text_in(browser, "denial", "Denied by the policy", 60)
    text_in(browser, "denial", "only python3 may run", 10)
    text_in(browser, "denial", "argv[0] is ls", 10)
    assert browser.find_element(By.ID, "output").text == ""
    browser.save_screenshot(os.path.join(shots, "denial.png"))

    url_before = browser.current_url
    panel(browser, "audit")
    css(browser, '#audit li[data-kind="POLICY:DECISION"][data-action="exec"][data-decision="allow"][data-session="ui-main"]')
    css(browser, '#audit li[data-kind="POLICY:DECISION"][data-action="exec"][data-decision="deny"][data-session="ui-main"]')
    css(browser, '#audit li[data-kind="TOOL:EXEC"][data-session="ui-main"]')
    assert browser.current_url == url_before
    # Filters hide what does not match.
    Select(browser.find_element(By.ID, "filter-decision")).select_by_value("deny")
    visible = [li for li in browser.find_elements(By.CSS_SELECTOR, "#audit li") if li.is_displayed()]
    assert visible and {li.get_attribute("data-decision") for li in visible} == {"deny"}, \
        [(li.get_attribute("data-kind"), li.get_attribute("data-decision"), li.get_attribute("hidden")) for li in visible]
    Select(browser.find_element(By.ID, "filter-decision")).select_by_value("")
    # A record expands into its full JSON.
    entry = browser.find_element(By.CSS_SELECTOR, '#audit li[data-action="exec"][data-decision="allow"]')
    entry.find_element(By.CSS_SELECTOR, ".summary").click()
    details = json.loads(entry.find_element(By.CSS_SELECTOR, ".details").text)
    assert details["kind"] == "POLICY:DECISION" and len(details["hash"]) == 64 and details["input_digest"]

    # Verify the trail.
    browser.find_element(By.ID, "verify-audit").click()
    text_in(browser, "verify-result", "OK:", 60)
    assert browser.find_element(By.ID, "verify-result").get_attribute("data-ok") == "true"
    browser.save_screenshot(os.path.join(shots, "audit.png"))

    # Policy: the bundle in force, and a dry run that applies nothing.
    panel(browser, "policy")
    text_in(browser, "policy-info", "builtin")
    assert "package enclave" in browser.find_element(By.ID, "policy-source").text
    browser.find_element(By.ID, "policy-eval").click()
    text_in(browser, "policy-result", "DENY")
    text_in(browser, "policy-result", "only inline code")  # the default input's intent
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(os.path.join(shots, "policy.png"))

    # Images: what 'enclave image status' shows.
    panel(browser, "images")
    css(browser, '#images [data-image="(current)"]')
    text_in(browser, "images", "kernel")
    text_in(browser, "images", "signature:")
    browser.save_screenshot(os.path.join(shots, "images.png"))

    # Stop both sessions from their rows.
    panel(browser, "sessions")
    for sid in ("ui-main",):
        click(browser, f'#sessions tr[data-session-id="{sid}"] button.stop')
        wait(browser, 120).until(lambda b: b.find_elements(By.CSS_SELECTOR, f'#sessions tr[data-session-id="{sid}"]') == [])
    sessions = daemon.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
    assert [s for s in sessions if s["sessionId"] == "ui-main"] == []
    # Nothing the page did broke its own CSP.
    errors = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")
              and "owned" not in e.get("message", "")]
    assert errors == [], errors


def test_dry_run_is_gated_and_recorded(daemon):
    before = daemon.call("VerifyAudit", {}, service="enclave.v1.Enclave")["records"]
    r = daemon.call("EvalPolicy", {"inputJson": json.dumps({"action": "exec", "request": {"network": True}})},
                    service="enclave.v1.Enclave")
    assert r.get("allow") is not True and any("no network" in x for x in r["reasons"])
    after = daemon.call("VerifyAudit", {}, service="enclave.v1.Enclave")
    assert after["ok"] and int(after["records"]) > int(before)
    with pytest.raises(Exception) as e:
        daemon.call("EvalPolicy", {"inputJson": "[1,2"}, service="enclave.v1.Enclave")
    assert getattr(e.value, "code", "") == "invalid_argument"


def test_enclave_ui_prints_a_login_url_that_logs_in(daemon):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}

    def cli(*args):
        r = daemon.cli(*args, env=env)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    rc, out, err = cli("ui")
    assert rc == 0, err
    url = out.strip()
    prefix = f"http://{daemon.addr}/login?code="
    assert url.startswith(prefix) and len(url) == len(prefix) + 32, url
    assert daemon.token not in url and daemon.operator_token not in url
    assert "no browser" in err
    path = url[len(f"http://{daemon.addr}"):]
    status, headers, _ = daemon.request("GET", path, auth=False)
    assert status == 303 and "HttpOnly" in headers["Set-Cookie"]
    # The code is used up: a second login with it is refused.
    status, headers, _ = daemon.request("GET", path, auth=False)
    assert status == 401 and headers.get("Set-Cookie") is None
    rc, out, err = cli("ui", "--operator", "--no-open")
    assert rc == 0 and out.strip().startswith(prefix) and err == ""
    status, headers, _ = daemon.request("GET", out.strip()[len(f"http://{daemon.addr}"):], auth=False)
    assert status == 303
    rc, out, err = cli("ui", "--addr", "evil.example/x?")
    assert rc != 0 and "HOST:PORT" in err and out == ""
    rc, out, err = cli("ui", "--addr", 'localhost:1"><script>')
    assert rc != 0 and "HOST:PORT" in err and out == ""


def test_enclave_ui_puts_no_token_on_the_browsers_command_line(daemon, tmp_path):
    """xdg-open and the browser it starts keep the URL in their command line
    for as long as they run, and every local user can read it in /proc: the
    URL holds a one-time code, never the token. A stand-in xdg-open records
    what it was given."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    seen = tmp_path / "argv"
    opener = bindir / "xdg-open"
    opener.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {seen}.tmp && mv {seen}.tmp {seen}\n")
    opener.chmod(0o755)
    env = {"DISPLAY": ":99", "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    for args in (["ui"], ["ui", "--operator"]):
        if seen.exists():
            seen.unlink()
        r = daemon.cli(*args, env=env)
        assert r.returncode == 0, r.stderr
        for _ in range(200):  # the opener runs detached
            if seen.exists():
                break
            time.sleep(0.05)
        argv = seen.read_text().strip()
        assert argv == r.stdout.decode().strip(), (argv, r.stdout)
        assert "/login?code=" in argv
        assert daemon.token not in argv and daemon.operator_token not in argv
        # What the browser would open logs in, once.
        path = argv[len(f"http://{daemon.addr}"):]
        assert daemon.request("GET", path, auth=False)[0] == 303
        assert daemon.request("GET", path, auth=False)[0] == 401
