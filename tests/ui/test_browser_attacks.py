"""A page on another port of the same machine, in a real headless Chromium
whose operator is logged in to the Web UI. Browsers separate cookies by site,
not by port, so the daemon's SameSite=Strict cookie goes along with the
page's requests to the daemon; a stylesheet or image request carries no
Origin. The daemon refuses them by the browser's Sec-Fetch-Site before any
route runs (the UI's own files also carry Cross-Origin-Resource-Policy, so
the browser would not hand them to the page, but a route runs whatever the
browser does with its answer). No VM."""
import http.server
import json
import socketserver
import threading

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import e2e

PAGE = """<!doctype html>
<title>another local page</title>
<body data-daemon="{daemon}">
<script src="/probe.js"></script>
</body>
"""

# What the page learns: whether the daemon served its stylesheet.
PROBE = """
const link = document.createElement('link');
link.rel = 'stylesheet';
link.onload = () => document.body.setAttribute('data-css', 'loaded');
link.onerror = () => document.body.setAttribute('data-css', 'refused');
link.href = 'http://' + document.body.dataset.daemon + '/ui/app.css';
document.head.appendChild(link);
"""


@pytest.fixture
def attacker_page(daemon):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (PROBE if self.path == "/probe.js" else PAGE.format(daemon=daemon.addr)).encode()
            self.send_response(200)
            self.send_header("Content-Type",
                             "text/javascript" if self.path == "/probe.js" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", e2e.free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def refusal_paths(daemon):
    logs = daemon.call("GetAuditLogs", {"limit": 1000}, operator=True)["logs"]
    return [json.loads(r["args"]) for r in logs if r["name"] == "API:REFUSED"]


def test_a_logged_in_browser_on_another_local_page_gets_nothing(daemon, browser, attacker_page):
    # The operator logs in: the UI loads its own stylesheet with the cookie.
    browser.get(f"http://{daemon.addr}/login?token={daemon.token}")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "sessions"))
    assert browser.execute_script(
        "return [...document.styleSheets].some(s => s.href && s.href.endsWith('/ui/app.css'))")
    # Then opens another local page, which asks the daemon for the same stylesheet.
    browser.get(attacker_page)
    WebDriverWait(browser, 60).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-css"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-css") == "refused"
    refused = [r for r in refusal_paths(daemon) if "Sec-Fetch-Site" in r["reason"]]
    assert [r["path"] for r in refused] == ["/ui/app.css"], refused
