#!/usr/bin/python3
"""A stand-in for the `firecracker` binary, held to Firecracker's published API.

Firecracker needs KVM, which these machines lack, so the Enclave driver is
tested against this program instead. It takes `--api-sock PATH --id ID`, serves
HTTP/1.1 on PATH, and checks every request against the swagger 2.0 document
(tests/firecracker/spec/firecracker.yaml): the path and method must exist, the body
must match the operation's schema (required fields, types, enums, bounds, and no
property the schema does not name). A request that does not match is answered
400 with a fault_message, as Firecracker answers bad input, and recorded.

After InstanceStart it listens on the vsock device's uds_path and does what
Firecracker's hybrid vsock does for host-initiated connections: reads
"CONNECT <port>\\n", answers "OK <host port>\\n" for port 52, and hands the
stream to the guest. SendCtrlAltDel ends the "VM" as a guest rebooting with
reboot=k ends Firecracker; so does SIGTERM.

The daemon runs this program confined as it runs Firecracker (another user,
Landlock, a file size cap, or the jailer), so it cannot start the guest
itself: the guest (the real `enclave-init --serve-stdio`, which runs
workloads as uid 1000 and needs root) is started by a broker, this same
program run by the test as root with --broker, which plays the part of the
VM. The stand-in connects to the broker's socket (FAKE_FC_BROKER) at start;
over it, it gets the API description, sends its record after each request
(the broker writes it to FAKE_FC_RECORD) and passes each guest stream
(SCM_RIGHTS) with the channel key it read from the initramfs the driver
configured, archive by archive as the kernel does (the last `.enclave-key`
entry, which must be root's, mode 0400, 32 bytes). When the stand-in ends,
the broker kills its guests. The record carries `process`: what the
stand-in found about its own confinement (uid, gid, groups, no_new_privs,
RLIMIT_FSIZE, its working directory, and whether it can open FAKE_FC_PROBE,
a file its user could read were it not for Landlock); the same line goes to
the configured log_path, Firecracker's log.

Snapshots keep Firecracker's rules: PATCH /vm pauses and resumes a started
VM; PUT /snapshot/create needs a paused VM and writes the state file (here a
JSON record of the VM's configuration and the key its guest holds) and the
memory file; PUT /snapshot/load is refused after any boot-specific
configuration (anything but the logger and metrics) or a start, reads the
state file back, takes the vsock_override's uds_path for the vsock device,
and with resume_vm serves the guest with the snapshot's key (the restored
guest holds it until the host's HelloRequest resumes it with a new one).
`firecracker --version` prints a version line.

Environment:
  FAKE_FC_SPEC        the swagger document (default tests/firecracker/spec/firecracker.yaml,
                      the copy kept in this repository); read by the broker
  FAKE_FC_BROKER      the broker's socket (without it: no guest, record to FAKE_FC_RECORD)
  FAKE_FC_RECORD      a folder; <folder>/<id>.json is rewritten after each request:
                      {id, api_sock, requests: [{method, path, body, status, fault}], exited,
                      process}
  FAKE_FC_INIT        enclave-init for the broker to serve guest connections with
  FAKE_FC_PROBE       a world-readable file outside what Landlock allows the VMM
  FAKE_FC_REFUSE      "METHOD PATH" (e.g. "PUT /machine-config") to answer 400
  FAKE_FC_IGNORE_CAD  when set, SendCtrlAltDel is accepted but the guest ignores it
  FAKE_FC_HOLD_CAD    a file name (relative to the working directory): SendCtrlAltDel is
                      recorded as it arrives (status null, fault "held"), answered only once
                      that file exists, and then ignored, as is SIGTERM; the record's
                      cad_client_waited says whether the client still waited for the answer
                      (had not closed its end) when the file appeared
  FAKE_FC_DELAY_MS    answer each API request this many milliseconds late (a loaded host)
  FAKE_FC_NO_API      when set, never open the API socket (a Firecracker that hangs at start)
  FAKE_FC_VERSION     what `--version` prints instead of its version line
  FAKE_FC_VERSION_HOLD  a path: `--version` answers only once it exists
"""
import argparse
import array
import ctypes
import errno
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

try:
    import yaml
except ImportError:  # the stand-in gets the parsed spec from the broker
    yaml = None

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAX_BODY = 64 * 1024
GUEST_PORT = 52
HOST_PORT = 1073741824  # what Firecracker reports as the host side's ephemeral port
PRE_BOOT_ONLY = {"/boot-source", "/machine-config", "/vsock", "/logger", "/metrics",
                 "/network-interfaces", "/drives", "/drives/{drive_id}", "/cpu-config", "/mmds/config",
                 "/entropy", "/serial", "/pmem", "/memory-hotplug", "/balloon"}


def initrd_key(path):
    """Unpacks nothing, reads the way the kernel does: newc archives one after
    another, each from a 4-byte boundary, zero bytes between them skipped.
    Returns (mode, uid, data) of the last .enclave-key entry, or None."""
    with open(path, "rb") as f:
        data = f.read()
    off, found = 0, None
    while off < len(data):
        if data[off] == 0:
            off += 1
            continue
        if data[off:off + 6] != b"070701":
            raise SystemExit(f"initrd {path}: not a newc archive at offset {off}")
        h = data[off + 6:off + 110]
        fields = [int(h[8 * i:8 * i + 8], 16) for i in range(13)]
        mode, uid, size, namesize = fields[1], fields[2], fields[6], fields[11]
        name = data[off + 110:off + 110 + namesize - 1]
        off = (off + 110 + namesize + 3) & ~3
        body = data[off:off + size]
        off = (off + size + 3) & ~3
        if name == b".enclave-key":
            found = (mode, uid, body)
    return found


def find_spec():
    env = os.environ.get("FAKE_FC_SPEC")
    if env:
        return env
    cand = os.path.join(REPO, "tests", "firecracker", "spec", "firecracker.yaml")
    if os.path.exists(cand):
        return cand
    sys.exit("fake firecracker: cannot find firecracker.yaml (set FAKE_FC_SPEC)")


class SpecError(Exception):
    pass


def load_spec_doc(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    # YAML 1.1 reads the level `Off` as false: keep JSON-safe values only.
    return json.loads(json.dumps(doc, default=str))


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.routes = []
        for template, ops in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(rx), template, ops))

    def operation(self, method, path):
        for rx, template, ops in self.routes:
            if rx.match(path):
                op = ops.get(method.lower())
                if op is None:
                    raise SpecError(f"{method} is not an operation on {template}")
                return template, op
        raise SpecError(f"no such path in the API: {path}")

    def resolve(self, schema):
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.doc["definitions"][name]
        return schema

    def check(self, schema, value, where):
        schema = self.resolve(schema)
        kind = schema.get("type")
        if "enum" in schema:
            # YAML 1.1 reads the level `Off` as false; the API means the string.
            allowed = ["Off" if e is False else "On" if e is True else e for e in schema["enum"]]
            if value not in allowed:
                raise SpecError(f"{where}: {value!r} is not one of {allowed}")
        if kind == "object" or (kind is None and "properties" in schema):
            if not isinstance(value, dict):
                raise SpecError(f"{where}: expected an object")
            props = schema.get("properties", {})
            for req in schema.get("required", []):
                if req not in value:
                    raise SpecError(f"{where}: missing required field `{req}`")
            extra = schema.get("additionalProperties")
            for k, v in value.items():
                if k in props:
                    self.check(props[k], v, f"{where}.{k}")
                elif isinstance(extra, dict):
                    self.check(extra, v, f"{where}.{k}")
                else:
                    raise SpecError(f"{where}: unknown field `{k}`")
        elif kind == "string":
            if not isinstance(value, str):
                raise SpecError(f"{where}: expected a string")
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(f"{where}: expected an integer")
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecError(f"{where}: expected a number")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise SpecError(f"{where}: expected a boolean")
        elif kind == "array":
            if not isinstance(value, list):
                raise SpecError(f"{where}: expected an array")
            for i, item in enumerate(value):
                self.check(schema.get("items", {}), item, f"{where}[{i}]")
        if kind in ("integer", "number"):
            if "minimum" in schema and value < schema["minimum"]:
                raise SpecError(f"{where}: {value} is below the minimum {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                raise SpecError(f"{where}: {value} is above the maximum {schema['maximum']}")

    def validate(self, method, path, body):
        template, op = self.operation(method, path)
        params = [p for p in op.get("parameters", []) if p.get("in") == "body"]
        if not params:
            if body is not None:
                raise SpecError(f"{method} {template} takes no body")
            return template
        param = params[0]
        if body is None:
            if param.get("required"):
                raise SpecError(f"{method} {template} needs a body")
            return template
        self.check(param["schema"], body, "body")
        return template


class VM:
    """The state a Firecracker process keeps between calls."""

    def __init__(self, args, spec, link=None, process=None):
        self.args = args
        self.spec = spec
        self.link = link
        self.process = process
        self.lock = threading.Lock()
        self.config = {}
        self.started = False
        self.records = []
        folder = os.environ.get("FAKE_FC_RECORD")
        self.record_path = os.path.join(folder, args.id + ".json") if folder else None
        self.exited = None
        self.cad_client_waited = None
        self.refuse = os.environ.get("FAKE_FC_REFUSE", "")
        self.guests = 0
        self.paused = False
        self.vsock_server = None
        self.api_server = None

    def record(self, method, path, body, status, fault):
        self.records.append({"method": method, "path": path, "body": body,
                             "status": status, "fault": fault})
        self.save()

    def save(self):
        rec = {"id": self.args.id, "api_sock": self.args.api_sock, "requests": self.records,
               "exited": self.exited, "process": self.process,
               "cad_client_waited": self.cad_client_waited}
        if self.link:
            # Written by the broker before the API answers, as a file would be.
            self.link.request({"record": rec})
        elif self.record_path:
            tmp = self.record_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(rec, f, indent=1)
            os.rename(tmp, self.record_path)

    def handle(self, method, path, body):
        """Returns (status, fault_message or None)."""
        with self.lock:
            try:
                template = self.spec.validate(method, path, body)
            except SpecError as e:
                return 400, f"request does not match the API: {e}"
            if f"{method} {path}" == self.refuse:
                return 400, f"refused by FAKE_FC_REFUSE: {method} {path} (as a real fault would be)"
            if method == "PATCH" and template == "/vm":
                if not self.started:
                    return 400, "The requested operation is not supported before starting the microVM."
                self.paused = body["state"] == "Paused"
                return 204, None
            if method != "PUT":
                return 204, None
            if template == "/snapshot/create":
                return self.snapshot_create(body)
            if template == "/snapshot/load":
                return self.snapshot_load(body)
            if self.started and template in PRE_BOOT_ONLY:
                return 400, "The requested operation is not supported after starting the microVM."
            if template == "/actions":
                return self.action(body["action_type"])
            if template in ("/logger", "/metrics"):
                # Firecracker opens an existing file for writing, as its user.
                path = body["log_path" if template == "/logger" else "metrics_path"]
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
                except OSError as e:
                    return 400, f"cannot open {path}: {e.strerror}"
                if template == "/logger":
                    os.write(fd, (json.dumps({"process": self.process}) + "\n").encode())
                os.close(fd)
            if template == "/drives/{drive_id}":
                # Firecracker's own checks on a drive: the id in the path is the
                # one in the body, and at most one root device.
                if path.rsplit("/", 1)[1] != body["drive_id"]:
                    return 400, "The id from the path does not match the id from the body!"
                drives = dict(self.config.get("drives", {}))
                drives[body["drive_id"]] = body
                if sum(1 for d in drives.values() if d["is_root_device"]) > 1:
                    return 400, "A root block device already exists!"
                self.config["drives"] = drives
                return 204, None
            self.config[template] = body
            return 204, None

    def action(self, kind):
        if kind == "InstanceStart":
            if self.started:
                return 400, "The requested operation is not supported after starting the microVM."
            if "/boot-source" not in self.config:
                return 400, "Cannot start microvm that was not configured with a boot source."
            boot = self.config["/boot-source"]
            # Firecracker loads both files, as its user, by these paths.
            for field in ("kernel_image_path", "initrd_path"):
                try:
                    with open(boot[field], "rb") as f:
                        f.read(1)
                except OSError as e:
                    return 400, f"cannot open {field} {boot[field]}: {e.strerror}"
            # Firecracker opens every drive's file at InstanceStart, read-only
            # when is_read_only; one it cannot open fails the start.
            for drive in self.config.get("drives", {}).values():
                try:
                    fd = os.open(drive["path_on_host"], os.O_RDONLY if drive.get("is_read_only") else os.O_RDWR)
                    os.close(fd)
                except (OSError, KeyError) as e:
                    return 400, f"Unable to open block device {drive.get('drive_id')}: {e}"
            key = initrd_key(boot["initrd_path"])
            if key is None or key[0] != 0o100400 or key[1] != 0 or len(key[2]) != 32:
                return 400, "fake: the initramfs carries no root-only 32-byte .enclave-key"
            # What the guest kernel would unpack, for enclave-init --key-file.
            self.key = key[2]
            self.started = True
            vsock = self.config.get("/vsock")
            if vsock:
                self.listen_vsock(vsock["uds_path"])
            print(f"fake firecracker {self.args.id}: InstanceStart", flush=True)
            return 204, None
        if kind == "SendCtrlAltDel":
            if not self.started:
                return 400, "The requested operation is not supported before starting the microVM."
            if not os.environ.get("FAKE_FC_IGNORE_CAD") and not os.environ.get("FAKE_FC_HOLD_CAD"):
                # The guest reboots; with reboot=k the VMM exits. Let the 204 go out first.
                threading.Timer(0.05, self.power_off, args=("SendCtrlAltDel",)).start()
            return 204, None
        return 204, None  # FlushMetrics

    def snapshot_create(self, body):
        if not self.started or not self.paused:
            return 400, "Cannot create a snapshot of a microVM that is not paused."
        state = {"fake_firecracker_snapshot": 1, "config": self.config, "key": self.key.hex()}
        with open(body["snapshot_path"], "w") as f:
            json.dump(state, f)
        size = self.config["/machine-config"]["mem_size_mib"] << 20
        with open(body["mem_file_path"], "wb") as f:
            f.truncate(size)
        return 204, None

    def snapshot_load(self, body):
        if self.started or any(t not in ("/logger", "/metrics") for t in self.config):
            return 400, ("Loading a microVM snapshot not allowed after configuring boot-specific "
                         "resources.")
        mem = body.get("mem_backend", {}).get("backend_path") or body.get("mem_file_path")
        if mem is None or ("mem_backend" in body) == ("mem_file_path" in body):
            return 400, "exactly one of mem_backend and mem_file_path is needed"
        try:
            with open(body["snapshot_path"]) as f:
                state = json.load(f)
            key = bytes.fromhex(state["key"])
            config = state["config"]
            os.stat(mem)
        except (OSError, ValueError, KeyError) as e:
            return 400, f"Load snapshot error: {e}"
        if len(key) != 32:
            return 400, "Load snapshot error: bad state file"
        self.config.update(config)
        if "vsock_override" in body:
            self.config["/vsock"] = dict(self.config["/vsock"], uds_path=body["vsock_override"]["uds_path"])
        self.key = key
        self.started = True
        self.paused = not body.get("resume_vm", False)
        if not self.paused:
            self.listen_vsock(self.config["/vsock"]["uds_path"])
        print(f"fake firecracker {self.args.id}: snapshot loaded", flush=True)
        return 204, None

    def listen_vsock(self, path):
        if os.path.exists(path):
            raise SystemExit(f"vsock uds_path {path} exists")
        vm = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                vm.guest_connection(self.request)

        class Server(socketserver.ThreadingUnixStreamServer):
            def shutdown_request(self, request):
                # Close only: the stream lives on in the guest (a shutdown
                # would end it there too).
                self.close_request(request)

        srv = Server(path, Handler)
        srv.daemon_threads = True
        self.vsock_server = srv
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def guest_connection(self, sock):
        line = b""
        sock.settimeout(5)
        try:
            while not line.endswith(b"\n") and len(line) < 32:
                ch = sock.recv(1)
                if not ch:
                    return
                line += ch
        except OSError:
            return
        m = re.fullmatch(rb"CONNECT (\d+)\n", line)
        if not m or int(m.group(1)) != GUEST_PORT or not self.link:
            return  # nothing listens on that guest port: Firecracker closes the stream
        sock.settimeout(None)
        sock.sendall(f"OK {HOST_PORT}\n".encode())
        # The guest side of the stream goes to the VM (the broker).
        self.link.send({"guest": self.key.hex()}, fds=[sock.fileno()])
        with self.lock:
            self.guests += 1

    def power_off(self, why, code=0):
        print(f"fake firecracker {self.args.id}: exiting ({why})", flush=True)
        with self.lock:
            self.exited = why
            self.save()
        # The broker kills this VM's guests when the link closes.
        os._exit(code)


def confinement_report():
    """What this process can find out about its own confinement."""
    libc = ctypes.CDLL(None, use_errno=True)
    import resource
    report = {
        "uid": os.getresuid(), "gid": os.getresgid(), "groups": sorted(os.getgroups()),
        "no_new_privs": libc.prctl(39, 0, 0, 0, 0),  # PR_GET_NO_NEW_PRIVS
        "fsize": list(resource.getrlimit(resource.RLIMIT_FSIZE)),
        "cwd": os.getcwd(),
        "argv": sys.argv[1:],
    }
    probe = os.environ.get("FAKE_FC_PROBE")
    if probe:
        try:
            with open(probe, "rb") as f:
                f.read(1)
            report["probe"] = "readable"
        except OSError as e:
            report["probe"] = errno.errorcode.get(e.errno, str(e.errno))
    return report


class Link:
    """The stand-in's end of the broker connection (SOCK_SEQPACKET: one
    message per JSON document, descriptors passed alongside)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        self.lock = threading.Lock()

    def send(self, doc, fds=()):
        data = json.dumps(doc).encode()
        with self.lock:
            if fds:
                socket.send_fds(self.sock, [data], list(fds))
            else:
                self.sock.send(data)

    def request(self, doc):
        with self.lock:
            self.sock.send(json.dumps(doc).encode())
            return json.loads(self.sock.recv(1 << 22))


def broker(args):
    """Plays the VM for confined stand-ins: serves their links (root)."""
    spec = json.dumps({"spec": load_spec_doc(find_spec())}).encode()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Bound and listening under another name first: the socket appears at
    # its path only once a connect to it can succeed.
    tmp = args.broker + ".new"
    srv.bind(tmp)
    os.chmod(tmp, 0o666)
    srv.listen(64)
    os.rename(tmp, args.broker)
    libc = ctypes.CDLL(None, use_errno=True)

    def serve(conn):
        guests, vm_id, key_dir = [], None, tempfile.mkdtemp(prefix="fake-fc-key-")
        try:
            while True:
                data, fds, _, _ = socket.recv_fds(conn, 1 << 22, 4)
                if not data:
                    break
                doc = json.loads(data)
                if "hello" in doc:
                    vm_id = doc["hello"]
                    conn.send(spec)
                elif "record" in doc and args.record:
                    rec = doc["record"]
                    path = os.path.join(args.record, rec["id"] + ".json")
                    with open(path + ".tmp", "w") as f:
                        json.dump(rec, f, indent=1)
                    os.rename(path + ".tmp", path)
                    conn.send(b"{}")
                elif "record" in doc:
                    conn.send(b"{}")
                elif "guest" in doc and fds:
                    key_file = os.path.join(key_dir, f"key{len(guests)}")
                    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    os.write(fd, bytes.fromhex(doc["guest"]))
                    os.close(fd)
                    guests.append(subprocess.Popen(
                        [args.init, "--key-file", key_file, "--serve-stdio"], stdin=fds[0],
                        stdout=fds[0], stderr=sys.stdout,
                        preexec_fn=lambda: libc.prctl(1, signal.SIGKILL)))
                for fd in fds:
                    os.close(fd)
        except OSError:
            pass
        finally:
            conn.close()
            for proc in guests:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            shutil.rmtree(key_dir, ignore_errors=True)
            print(f"fake firecracker broker: {vm_id} gone", flush=True)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def make_handler(vm):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Firecracker API"

        def log_message(self, fmt, *args):
            pass

        def address_string(self):
            return "api"

        def serve(self, method):
            body = None
            length = self.headers.get("Content-Length")
            fault = None
            status = 400
            if self.headers.get("Transfer-Encoding"):
                fault = "chunked bodies are not accepted"
            elif length is not None:
                try:
                    n = int(length)
                except ValueError:
                    n = -1
                if n < 0 or n > MAX_BODY:
                    fault = f"bad Content-Length {length!r}"
                elif n > 0:
                    raw = self.rfile.read(n)
                    if self.headers.get_content_type() != "application/json":
                        fault = "the body must be application/json"
                    else:
                        try:
                            body = json.loads(raw)
                        except ValueError as e:
                            fault = f"the body is not JSON: {e}"
            delay = int(os.environ.get("FAKE_FC_DELAY_MS", "0") or 0)
            if delay > 0:
                time.sleep(delay / 1000)
            hold = os.environ.get("FAKE_FC_HOLD_CAD")
            if (hold and fault is None and method == "PUT" and self.path == "/actions"
                    and isinstance(body, dict) and body.get("action_type") == "SendCtrlAltDel"):
                vm.record(method, self.path, body, None, "held")
                deadline = time.time() + 120
                while not os.path.exists(hold) and time.time() < deadline:
                    time.sleep(0.01)
                # A client that gave up has closed its end: readable, and nothing to read.
                readable, _, _ = select.select([self.connection], [], [], 0)
                gone = bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                vm.cad_client_waited = not gone
            if fault is None:
                status, fault = vm.handle(method, self.path, body)
            vm.record(method, self.path, body, status, fault)
            if status == 204:
                self.send_response(204)
                self.end_headers()
                return
            payload = json.dumps({"fault_message": fault}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_PUT(self):
            self.serve("PUT")

        def do_PATCH(self):
            self.serve("PATCH")

        def do_GET(self):
            self.serve("GET")

    return Handler


def main():
    if sys.argv[1:] == ["--version"]:
        hold = os.environ.get("FAKE_FC_VERSION_HOLD")
        deadline = time.time() + 120
        while hold and not os.path.exists(hold) and time.time() < deadline:
            time.sleep(0.01)
        print(os.environ.get("FAKE_FC_VERSION",
                             "Firecracker v1.12.0 (fake, tests/firecracker/fake_firecracker.py)"))
        return
    parser = argparse.ArgumentParser(prog="firecracker", allow_abbrev=False)
    parser.add_argument("--api-sock")
    parser.add_argument("--id")
    # What the jailer adds when it executes Firecracker.
    parser.add_argument("--start-time-us", type=int)
    parser.add_argument("--start-time-cpu-us", type=int)
    # The broker (run by the tests, not by the daemon).
    parser.add_argument("--broker")
    parser.add_argument("--record")
    parser.add_argument("--init")
    args = parser.parse_args()
    if args.broker:
        return broker(args)
    if not args.api_sock or not args.id:
        sys.exit("firecracker: --api-sock and --id are required here")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", args.id):
        sys.exit(f"Invalid instance ID: {args.id}")
    process = confinement_report()
    link = None
    if os.environ.get("FAKE_FC_BROKER"):
        link = Link(os.environ["FAKE_FC_BROKER"])
        spec = Spec(link.request({"hello": args.id})["spec"])
    else:
        spec = Spec(load_spec_doc(find_spec()))
    vm = VM(args, spec, link, process)
    if os.environ.get("FAKE_FC_HOLD_CAD"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: vm.power_off("SIGTERM"))
    if os.environ.get("FAKE_FC_NO_API"):
        print(f"fake firecracker {args.id}: not opening {args.api_sock} (FAKE_FC_NO_API)", flush=True)
        while True:
            signal.pause()
    if os.path.exists(args.api_sock):
        sys.exit(f"Failed to open the API socket at {args.api_sock}: it exists")
    srv = socketserver.ThreadingUnixStreamServer(args.api_sock, make_handler(vm))
    srv.daemon_threads = True
    vm.api_server = srv
    vm.save()
    print(f"fake firecracker {args.id}: API on {args.api_sock}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
