"""The wire: Connect over HTTP/1.1 (JSON), unary and server streaming, and
the plain file routes, with http.client only.

Finds the daemon and the token as the ``enclave`` CLI does:

* ``ENCLAVE_SOCKET``: a Unix socket (no token needed there);
* else ``ENCLAVE_ADDR`` (``host:port``), default ``127.0.0.1:7339``;
* the token: ``ENCLAVE_TOKEN``, else ``$ENCLAVE_HOME/run/api-token``
  (``ENCLAVE_HOME`` defaults to ``~/.enclave``). This is the agent token:
  the client never reads the operator token.
"""
import http.client
import json
import os
import socket
import struct
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, Optional, Tuple, Union
from urllib.parse import quote

from .errors import EnclaveError, Timeout, Unavailable, error_from_code

DEFAULT_ADDR = "127.0.0.1:7339"
#: Largest enveloped message the client accepts from the daemon.
MAX_MESSAGE = 64 << 20
CHUNK = 256 << 10

_STATUS_CODES = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
                 404: "not_found", 408: "deadline_exceeded", 409: "already_exists",
                 413: "resource_exhausted", 429: "resource_exhausted", 499: "canceled",
                 500: "internal", 501: "unimplemented", 503: "unavailable", 504: "deadline_exceeded"}


def enclave_home() -> str:
    """``$ENCLAVE_HOME``, or ``~/.enclave``."""
    return os.environ.get("ENCLAVE_HOME") or os.path.join(os.path.expanduser("~"), ".enclave")


def default_token() -> Optional[str]:
    """``$ENCLAVE_TOKEN``, else the agent token in ``$ENCLAVE_HOME/run/api-token``, else None."""
    env = os.environ.get("ENCLAVE_TOKEN")
    if env:
        return env.strip()
    try:
        with open(os.path.join(enclave_home(), "run", "api-token"), encoding="ascii") as f:
            token = f.read().strip()
            return token or None
    except (OSError, UnicodeDecodeError):
        return None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: Optional[float]) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def _error_from_body(status: int, body: bytes) -> EnclaveError:
    code, message = _STATUS_CODES.get(status, "unknown"), ""
    try:
        doc = json.loads(body) if body else {}
        if isinstance(doc, dict):
            code = str(doc.get("code") or code)
            message = str(doc.get("message") or "")
    except ValueError:
        message = body[:500].decode("utf-8", "replace").strip()
    return error_from_code(code, message or f"HTTP {status}", status)


class Transport:
    """One daemon address and token; each call opens its own connection
    (so a Transport may be shared by threads)."""

    def __init__(self, addr: Optional[str] = None, socket_path: Optional[str] = None,
                 token: Optional[str] = None, request_timeout: Optional[float] = 600.0) -> None:
        self.socket_path = socket_path if socket_path is not None else (os.environ.get("ENCLAVE_SOCKET") or None)
        self.addr = addr or os.environ.get("ENCLAVE_ADDR") or DEFAULT_ADDR
        self.token = token if token is not None else (None if self.socket_path else default_token())
        self.request_timeout = request_timeout
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit():
            raise EnclaveError(f"bad daemon address {self.addr!r} (want host:port)", "invalid_argument")
        self._host, self._port = host.strip("[]"), int(port)

    # -- connections ---------------------------------------------------------
    def _connect(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        if self.socket_path:
            conn: http.client.HTTPConnection = _UnixConnection(self.socket_path, timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.connect()
        except socket.timeout as e:
            raise Timeout(f"connecting to the daemon: {e}", "deadline_exceeded") from e
        except OSError as e:
            where = self.socket_path or self.addr
            raise Unavailable(f"cannot reach the daemon at {where} ({e.strerror or e}); "
                              "is 'enclave up' running?", "unavailable") from e
        return conn

    def _headers(self, content_type: Optional[str], timeout: Optional[float]) -> Dict[str, str]:
        h = {"Connect-Protocol-Version": "1"}
        if content_type:
            h["Content-Type"] = content_type
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if timeout:
            h["Connect-Timeout-Ms"] = str(int(timeout * 1000))
        return h

    def _timeout(self, timeout: Optional[float]) -> Optional[float]:
        return timeout if timeout is not None else self.request_timeout

    # -- Connect unary -------------------------------------------------------
    def call(self, service: str, method: str, body: Dict[str, Any],
             timeout: Optional[float] = None) -> Dict[str, Any]:
        """A Connect unary call with a JSON body; returns the JSON answer."""
        t = self._timeout(timeout)
        conn = self._connect(t)
        try:
            conn.request("POST", f"/{service}/{method}", json.dumps(body).encode(),
                         self._headers("application/json", t))
            resp = conn.getresponse()
            data = resp.read()
        except socket.timeout as e:
            raise Timeout(f"{method}: no answer within {t} s", "deadline_exceeded") from e
        except (OSError, http.client.HTTPException) as e:
            raise Unavailable(f"{method}: the connection failed ({e})", "unavailable") from e
        finally:
            conn.close()
        if resp.status != 200:
            raise _error_from_body(resp.status, data)
        try:
            doc = json.loads(data) if data else {}
        except ValueError as e:
            raise EnclaveError(f"{method}: the answer is not JSON", "internal", resp.status) from e
        if not isinstance(doc, dict):
            raise EnclaveError(f"{method}: the answer is not a JSON object", "internal", resp.status)
        return doc

    # -- Connect server streaming ---------------------------------------------
    def stream(self, service: str, method: str, body: Dict[str, Any],
               timeout: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """A Connect server-streaming call (``application/connect+json``):
        yields each message as soon as its envelope is complete; raises the
        end-of-stream error, if any, after the last message."""
        t = self._timeout(timeout)
        payload = json.dumps(body).encode()
        conn = self._connect(t)
        try:
            try:
                conn.request("POST", f"/{service}/{method}", struct.pack(">BI", 0, len(payload)) + payload,
                             self._headers("application/connect+json", t))
                resp = conn.getresponse()
                if resp.status != 200:
                    raise _error_from_body(resp.status, resp.read())
                while True:
                    head = _read_exactly(resp, 5)
                    if len(head) < 5:
                        raise Unavailable(f"{method}: the stream ended without its end message", "unavailable")
                    flags, length = struct.unpack(">BI", head)
                    if length > MAX_MESSAGE:
                        raise EnclaveError(f"{method}: a {length}-byte message is over the limit", "resource_exhausted")
                    data = _read_exactly(resp, length)
                    if len(data) < length:
                        raise Unavailable(f"{method}: the stream broke off mid-message", "unavailable")
                    msg = json.loads(data) if data else {}
                    if flags & 0x02:
                        err = msg.get("error") if isinstance(msg, dict) else None
                        if err:
                            raise error_from_code(str(err.get("code") or "unknown"),
                                                  str(err.get("message") or ""), 200)
                        return
                    if flags & 0x01:
                        raise EnclaveError(f"{method}: a compressed message was not asked for", "internal")
                    if isinstance(msg, dict):
                        yield msg
            except socket.timeout as e:
                raise Timeout(f"{method}: nothing arrived within {t} s", "deadline_exceeded") from e
            except ValueError as e:
                raise EnclaveError(f"{method}: a message is not JSON", "internal") from e
            except (OSError, http.client.HTTPException) as e:
                raise Unavailable(f"{method}: the connection failed ({e})", "unavailable") from e
        finally:
            conn.close()

    # -- plain file routes ---------------------------------------------------
    @staticmethod
    def file_route(session_id: str, path: str) -> str:
        return f"/v1/sessions/{quote(session_id, safe='')}/files/{quote(path.lstrip('/'))}"

    def put_file(self, session_id: str, path: str,
                 body: Union[bytes, Iterable[bytes]], length: Optional[int],
                 timeout: Optional[float] = None) -> Dict[str, Any]:
        """``PUT /v1/sessions/{id}/files/{path}``: the body streamed from an
        iterable of chunks, with Content-Length when known, else chunked."""
        t = self._timeout(timeout)
        conn = self._connect(t)
        try:
            try:
                conn.putrequest("PUT", self.file_route(session_id, path), skip_accept_encoding=True)
                for k, v in self._headers("application/octet-stream", None).items():
                    conn.putheader(k, v)
                chunked = length is None
                conn.putheader("Transfer-Encoding" if chunked else "Content-Length",
                               "chunked" if chunked else str(length))
                conn.endheaders()
                sent = 0
                try:
                    for chunk in ([body] if isinstance(body, (bytes, bytearray)) else body):
                        if not chunk:
                            continue
                        sent += len(chunk)
                        if length is not None and sent > length:
                            raise EnclaveError("the file grew while it was sent", "invalid_argument")
                        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    if chunked:
                        conn.send(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon answered early (a refusal): read it below
                resp = conn.getresponse()
                data = resp.read()
            except socket.timeout as e:
                raise Timeout(f"upload of {path}: no answer within {t} s", "deadline_exceeded") from e
            except (OSError, http.client.HTTPException) as e:
                raise Unavailable(f"upload of {path}: the connection failed ({e})", "unavailable") from e
        finally:
            conn.close()
        if resp.status not in (200, 201):
            raise _error_from_body(resp.status, data)
        if length is not None and sent < length:
            raise EnclaveError(f"upload of {path}: the source ended after {sent} of {length} bytes",
                               "invalid_argument")
        doc = json.loads(data) if data else {}
        return doc if isinstance(doc, dict) else {}

    def get_file(self, session_id: str, path: str,
                 timeout: Optional[float] = None) -> Iterator[bytes]:
        """``GET /v1/sessions/{id}/files/{path}``: yields the content in
        chunks as it arrives; raises if the body ends short."""
        t = self._timeout(timeout)
        conn = self._connect(t)
        try:
            try:
                conn.request("GET", self.file_route(session_id, path), headers=self._headers(None, None))
                resp = conn.getresponse()
                if resp.status != 200:
                    raise _error_from_body(resp.status, resp.read())
                if (resp.getheader("Content-Type") or "").startswith("application/json"):
                    resp.read()
                    raise EnclaveError(f"{path} is a directory", "invalid_argument", 200)
                expected = resp.getheader("Content-Length")
                got = 0
                while True:
                    chunk = resp.read1(CHUNK) if hasattr(resp, "read1") else resp.read(CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    yield chunk
                if expected is not None and got != int(expected):
                    raise Unavailable(f"download of {path} ended after {got} of {expected} bytes", "unavailable")
            except http.client.IncompleteRead as e:
                raise Unavailable(f"download of {path} broke off ({e})", "unavailable") from e
            except socket.timeout as e:
                raise Timeout(f"download of {path}: nothing arrived within {t} s", "deadline_exceeded") from e
            except (OSError, http.client.HTTPException) as e:
                raise Unavailable(f"download of {path}: the connection failed ({e})", "unavailable") from e
        finally:
            conn.close()


def _read_exactly(resp: http.client.HTTPResponse, n: int) -> bytes:
    """Up to n bytes; fewer only at the end of the body."""
    parts = []
    while n > 0:
        chunk = resp.read(n)
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def iter_source(data: Union[bytes, bytearray, str, BinaryIO],
                chunk: int = CHUNK) -> Tuple[Union[bytes, Iterable[bytes]], Optional[int]]:
    """(body, length) for bytes, str (UTF-8) or a binary file object (read
    in chunks; the length from its remaining size when it can seek, else
    None: sent chunked)."""
    if isinstance(data, str):
        b = data.encode("utf-8")
        return b, len(b)
    if isinstance(data, (bytes, bytearray, memoryview)):
        b = bytes(data)
        return b, len(b)
    if not hasattr(data, "read"):
        raise TypeError("data must be bytes, str or a binary file object")
    length: Optional[int] = None
    try:
        if data.seekable():
            pos = data.tell()
            end = data.seek(0, os.SEEK_END)
            data.seek(pos)
            length = end - pos
    except (AttributeError, OSError, ValueError):
        length = None

    def gen() -> Iterator[bytes]:
        while True:
            b = data.read(chunk)
            if not b:
                return
            if isinstance(b, str):
                raise TypeError("the file object must be opened in binary mode")
            yield b
    return gen(), length


OnChunk = Callable[[str], None]
