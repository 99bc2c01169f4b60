"""Fixtures for the OCI interop tests: a real Debian docker-registry on
127.0.0.1, a fresh ENCLAVE_HOME per test, local guest images in the cache
layout, and a misbehaving proxy registry for the bad-input cases."""
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENCLAVE = os.environ.get("ENCLAVE_BIN", os.path.join(ROOT, "build", "enclave"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, tmp):
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.url = "http://" + self.host
        cfg = os.path.join(tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write(
                "version: 0.1\n"
                "log:\n  level: warn\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(tmp, "data"), self.port))
        self.log = open(os.path.join(tmp, "registry.log"), "w")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    # Direct API access for the tests' own (independent) client side.
    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = dict(r.getheaders())
        conn.close()
        return r.status, hdrs, data

    def get_manifest(self, repo, ref):
        accept = ", ".join([
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json"])
        return self.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": accept})

    def get_blob(self, repo, digest):
        status, _, data = self.request("GET", "/v2/%s/blobs/%s" % (repo, digest))
        assert status == 200, status
        return data

    def put_blob(self, repo, data):
        digest = sha256(data)
        status, hdrs, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        assert status == 202, status
        loc = hdrs["Location"]
        if loc.startswith("http"):
            loc = loc.split(self.host, 1)[1]
        sep = "&" if "?" in loc else "?"
        status, _, body = self.request("PUT", loc + sep + "digest=" + digest, body=data,
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)
        return digest

    def put_manifest(self, repo, ref, doc, media_type="application/vnd.oci.image.manifest.v1+json"):
        raw = json.dumps(doc, separators=(",", ":")).encode() if not isinstance(doc, bytes) else doc
        status, _, body = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw,
                                       headers={"Content-Type": media_type})
        assert status == 201, (status, body)
        return sha256(raw)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


class Enclave:
    def __init__(self, home, cwd):
        self.home = str(home)
        self.cwd = str(cwd)

    def run(self, *args, password=None, check=True, timeout=120):
        env = {k: v for k, v in os.environ.items() if k not in ("COSIGN_PASSWORD",)}
        env["ENCLAVE_HOME"] = self.home
        if password is not None:
            env["COSIGN_PASSWORD"] = password
        p = subprocess.run([ENCLAVE, "image"] + list(args), cwd=self.cwd, env=env,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError("enclave image %s failed (%d):\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def audit_records(self):
        env = dict(os.environ, ENCLAVE_HOME=self.home)
        p = subprocess.run([ENCLAVE, "audit", "export"], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            return []
        recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        return [dict(r, details=json.loads(r["details"])) for r in recs if r.get("type") == "record"]

    def current(self):
        link = os.path.join(self.home, "cache", "current")
        return os.readlink(link) if os.path.islink(link) else None

    def blobs(self):
        d = os.path.join(self.home, "cache", "blobs", "sha256")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def partials(self):
        d = os.path.join(self.home, "cache", "blobs", "partial")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.fixture
def enclave(home, tmp_path):
    return Enclave(home, tmp_path)


def make_local_image(folder, kernel_size=300000, initramfs_size=700000, seed=b"k"):
    """An image folder in the cache layout (what `enclave image build` writes)."""
    os.makedirs(folder, exist_ok=True)
    files = {
        "vmlinuz": (hashlib.sha256(seed + b"kernel").digest() * (kernel_size // 32 + 1))[:kernel_size],
        "initramfs.cpio": (hashlib.sha256(seed + b"initramfs").digest() * (initramfs_size // 32 + 1))[:initramfs_size],
    }
    artifacts = []
    for role, name, mt in (("kernel", "vmlinuz", "application/vnd.enclave.kernel"),
                           ("initramfs", "initramfs.cpio", "application/vnd.enclave.initramfs")):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(files[name])
        artifacts.append({"role": role, "path": name, "size": len(files[name]),
                          "sha256": hashlib.sha256(files[name]).hexdigest(), "media_type": mt})
    manifest = {"schema": 1, "created": "2026-01-01T00:00:00Z", "source": "local-build",
                "arch": "amd64", "guest_protocol": 1,
                "kernel_cmdline": "console=ttyS0 panic=-1 tsc_early_khz=2000000 lpj=4000000",
                "artifacts": artifacts,
                "packages": [{"name": "python3", "version": "3.11.2-1"}]}
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return files


@pytest.fixture
def local_image(tmp_path):
    folder = str(tmp_path / "local-image")
    files = make_local_image(folder, seed=os.urandom(8))
    return folder, files


_repo_counter = [0]


@pytest.fixture
def repo():
    _repo_counter[0] += 1
    return "enclave/t%d-%d" % (os.getpid(), _repo_counter[0])


# ------------------------------------------------------------------ fake registry

class FakeRegistry:
    """Proxies to the real registry, misbehaving as `mode` says:
    cut-once / cut-always (close mid-blob), corrupt (flip a blob byte),
    error500, big-manifest, big-manifest-chunked, token (Bearer flow),
    redirect-http (blob GET redirected to plain http on a non-loopback host),
    redirect-other (blob GET redirected to `localhost` on another port)."""

    def __init__(self, upstream, mode, other_port=None, tls_context=None):
        self.upstream = upstream
        self.mode = mode
        self.requests = []
        self.cut_done = set()
        self.token = "tok-" + base64.b16encode(os.urandom(8)).decode()
        self.other_port = other_port
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_HEAD(self):
                fake.handle(self, "HEAD")

            def do_POST(self):
                fake.handle(self, "POST")

            def do_PUT(self):
                fake.handle(self, "PUT")

            def do_PATCH(self):
                fake.handle(self, "PATCH")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.host = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def send(self, h, status, body=b"", headers=None, content_length=True):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if content_length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h, method):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        self.requests.append((method, h.path, dict(h.headers)))
        path = h.path
        mode = self.mode
        if mode == "hang":
            time.sleep(5)
            return
        if mode == "error500":
            return self.send(h, 500, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}')
        if mode == "token":
            if path.startswith("/token"):
                return self.send(h, 200, json.dumps({"token": self.token}).encode(),
                                 {"Content-Type": "application/json"})
            if h.headers.get("Authorization") != "Bearer " + self.token:
                realm = "http://%s/token" % self.host
                return self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                    "WWW-Authenticate": 'Bearer realm="%s",service="fake-registry",scope="repository:%s:pull"'
                    % (realm, path.split("/")[2] + "/" + path.split("/")[3])})
        is_blob = "/blobs/sha256:" in path and method == "GET"
        is_manifest = "/manifests/" in path and method == "GET"
        if is_blob and mode == "redirect-http":
            return self.send(h, 307, b"", {"Location": "http://registry.example.invalid/blob"})
        if is_blob and mode == "redirect-other" and self.other_port:
            return self.send(h, 307, b"", {"Location": "http://localhost:%d%s" % (self.other_port, path)})
        if is_manifest and mode in ("big-manifest", "big-manifest-chunked"):
            big = b'{"schemaVersion":2,"pad":"' + b"a" * (5 << 20) + b'"}'
            if mode == "big-manifest":
                return self.send(h, 200, big, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            h.send_response(200)
            h.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            try:
                for i in range(0, len(big), 65536):
                    chunk = big[i:i + 65536]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        # forward to the real registry
        fwd = {k: v for k, v in h.headers.items() if k.lower() not in ("authorization", "connection")}
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=30)
        conn.request(method, path, body=body, headers=fwd)
        r = conn.getresponse()
        data = r.read()
        headers = {k: v for k, v in r.getheaders()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        conn.close()
        if is_blob and r.status in (200, 206) and len(data) > 1000:
            if mode == "corrupt":
                data = data[:500] + bytes([data[500] ^ 0xFF]) + data[501:]
            elif mode == "cut-always" or (mode == "cut-once" and path not in self.cut_done):
                self.cut_done.add(path)
                h.send_response(r.status)
                for k, v in headers.items():
                    h.send_header(k, v)
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[:len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
        self.send(h, r.status, data, headers)


@pytest.fixture
def fake_registry(registry):
    made = []

    def make(mode, other_port=None, tls_context=None):
        f = FakeRegistry(registry, mode, other_port, tls_context)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()
