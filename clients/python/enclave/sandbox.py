"""The synchronous client: :class:`Sandbox`, shaped like E2B's.

One Sandbox is one Enclave session (a microVM). Every request goes through
the daemon's policy gate and audit log; a refusal raises
:class:`~enclave.errors.PolicyDenied` with the policy's reasons.
"""
import base64
from typing import Any, BinaryIO, Callable, Dict, Iterator, List, Optional, Sequence, Union

from .errors import EnclaveError, SessionNotFound
from .models import (CommandResult, EntryInfo, Execution, ExecutionError, Result, SessionInfo,
                     WriteInfo)
from ._transport import Transport, iter_source

__all__ = ["Sandbox", "Commands", "Files"]

AGENT = "agent.v1.AgentService"
ENCLAVE = "enclave.v1.Enclave"

OutputHandler = Callable[[str], Any]


def _int(v: Any) -> int:
    """Protobuf JSON writes 64-bit numbers as strings."""
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _entry(doc: Dict[str, Any], parent: str) -> EntryInfo:
    name = str(doc.get("name", ""))
    return EntryInfo(name=name, type=str(doc.get("type", "")), size=_int(doc.get("size")),
                     mode=_int(doc.get("mode")), mtime_unix_ns=_int(doc.get("mtimeUnixNs")),
                     path=parent.rstrip("/") + "/" + name if name else parent)


class Commands:
    """``sandbox.commands``: run programs in the session."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sb = sandbox

    def run(self, cmd: Union[str, Sequence[str]], *,
            on_stdout: Optional[OutputHandler] = None,
            on_stderr: Optional[OutputHandler] = None,
            cwd: Optional[str] = None,
            envs: Optional[Dict[str, str]] = None,
            stdin: Union[bytes, str, None] = None,
            timeout: Optional[int] = None) -> CommandResult:
        """Runs a program and waits for it to end; output streams to
        ``on_stdout`` / ``on_stderr`` (as text) as the program writes it.

        Args:
            cmd: the argv as a list (``["python3", "-c", "print(1)"]``), or a
                string, which runs as ``["/bin/sh", "-c", cmd]`` (as E2B runs a
                shell); the policy sees the argv either way.
            on_stdout / on_stderr: called with each chunk of output, decoded as UTF-8.
            cwd: working directory (default ``/workspace``).
            envs: environment variables.
            stdin: given to the program up front, then closed.
            timeout: seconds (0 or None: the daemon's default; the policy may lower it).

        Returns:
            :class:`CommandResult`. Unlike E2B, a non-zero exit is not raised:
            look at ``exit_code``.

        Raises:
            PolicyDenied: the policy refused the command (``reasons`` says why).
            SessionNotFound: the session is gone.
        """
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        body: Dict[str, Any] = {"sessionId": self._sb.session_id, "argv": argv}
        if cwd:
            body["cwd"] = cwd
        if envs:
            body["env"] = dict(envs)
        if stdin is not None:
            raw = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
            body["stdin"] = base64.b64encode(raw).decode()
        if timeout:
            body["timeoutSeconds"] = int(timeout)
        out: List[bytes] = []
        err: List[bytes] = []
        exit_doc: Dict[str, Any] = {}
        # Undecodable bytes split across chunks are decoded per chunk for the
        # callbacks; the result's text is decoded from the whole output.
        for ev in self._sb._transport.stream(ENCLAVE, "Exec", body, timeout=self._sb._stream_timeout(timeout)):
            if "stdout" in ev:
                b = base64.b64decode(ev["stdout"])
                out.append(b)
                if on_stdout:
                    on_stdout(b.decode("utf-8", "replace"))
            elif "stderr" in ev:
                b = base64.b64decode(ev["stderr"])
                err.append(b)
                if on_stderr:
                    on_stderr(b.decode("utf-8", "replace"))
            elif "exit" in ev:
                exit_doc = ev["exit"] or {}
        so, se = b"".join(out), b"".join(err)
        return CommandResult(exit_code=_int(exit_doc.get("exitCode")),
                             stdout=so.decode("utf-8", "replace"), stderr=se.decode("utf-8", "replace"),
                             signal=_int(exit_doc.get("signal")), timed_out=bool(exit_doc.get("timedOut")),
                             truncated=bool(exit_doc.get("truncated")),
                             duration_ms=_int(exit_doc.get("durationMs")),
                             stdout_bytes=so, stderr_bytes=se)


class Files:
    """``sandbox.files``: files of the session, under ``/workspace`` and ``/tmp``."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sb = sandbox

    def write(self, path: str, data: Union[bytes, bytearray, str, BinaryIO]) -> WriteInfo:
        """Writes a file (replacing it). ``data`` is bytes, str (written as
        UTF-8) or a binary file object, which is streamed in chunks, never
        read whole. Returns the size and SHA-256 the daemon recorded."""
        body, length = iter_source(data)
        doc = self._sb._transport.put_file(self._sb.session_id, path, body, length)
        return WriteInfo(path=str(doc.get("path", path)), size=_int(doc.get("bytes")),
                         sha256=str(doc.get("sha256", "")))

    def read(self, path: str, format: str = "bytes") -> Any:
        """Reads a file: ``format="bytes"`` (default) returns bytes,
        ``"text"`` a str (UTF-8), ``"stream"`` an iterator of byte chunks
        as they arrive (for large files)."""
        chunks = self._sb._transport.get_file(self._sb.session_id, path)
        if format == "stream":
            return chunks
        data = b"".join(chunks)
        if format == "text":
            return data.decode("utf-8")
        if format != "bytes":
            raise ValueError("format must be 'bytes', 'text' or 'stream'")
        return data

    def download(self, path: str, fileobj: BinaryIO) -> int:
        """Streams a file into a binary file object; returns the bytes written."""
        n = 0
        for chunk in self._sb._transport.get_file(self._sb.session_id, path):
            fileobj.write(chunk)
            n += len(chunk)
        return n

    def list(self, path: str = "/workspace") -> List[EntryInfo]:
        """The entries of a folder, sorted by name."""
        doc = self._sb._call(ENCLAVE, "ListFiles", {"path": path})
        return [_entry(e, path) for e in doc.get("entries") or []]

    def stat(self, path: str) -> EntryInfo:
        """What a path is (its ``name`` is the last component)."""
        doc = self._sb._call(ENCLAVE, "StatFile", {"path": path})
        info = doc.get("info") or {}
        parent = path.rstrip("/").rsplit("/", 1)[0] or "/"
        return _entry(info, parent)

    def exists(self, path: str) -> bool:
        """Whether a path exists (False for a missing one; other errors raise)."""
        try:
            self.stat(path)
            return True
        except SessionNotFound as e:
            if f"no session '{self._sb.session_id}'" in e.message:
                raise  # the session is gone, not the file
            return False

    def remove(self, path: str, recursive: bool = False) -> None:
        """Removes a file, or a folder with ``recursive=True``."""
        self._sb._call(ENCLAVE, "RemoveFile", {"path": path, "recursive": recursive})

    def make_dir(self, path: str, parents: bool = True) -> EntryInfo:
        """Creates a folder (and its parents; an existing folder is fine)."""
        doc = self._sb._call(ENCLAVE, "MakeDirectory", {"path": path, "parents": parents})
        parent = path.rstrip("/").rsplit("/", 1)[0] or "/"
        return _entry(doc.get("info") or {}, parent)


class Sandbox:
    """A session: a microVM with a Python interpreter, files and programs.

    ``with Sandbox() as sb:`` starts the session (and waits until it is
    READY) and stops it on exit; without ``with``, call :meth:`kill`.

    Args:
        cpu: virtual CPUs (0: the daemon's default).
        mem_mb: memory in MiB (0: the daemon's default).
        timeout: the session's maximum lifetime in seconds (E2B's sandbox
            timeout): the daemon stops it then. None: the daemon's default.
        idle_timeout: stopped after this many seconds without a command.
        session_id: a name for the session (default: the daemon makes one).
        image: an image variant by name (default: the daemon's).
        egress: let the session's programs make outbound HTTP(S) connections
            through the guest's proxy (``HTTP_PROXY`` is set for them); the
            policy decides whether the session may have it, and then each
            connection. A refused connection is an HTTP 403 from the proxy
            with the policy's reason in the body.
        addr / socket / token: where the daemon is and the token to send;
            by default as the ``enclave`` CLI finds them (``ENCLAVE_ADDR``,
            ``ENCLAVE_SOCKET``, ``ENCLAVE_TOKEN``, ``$ENCLAVE_HOME/run/api-token``).
        request_timeout: the client's socket timeout per request, seconds.
    """

    def __init__(self, cpu: int = 0, mem_mb: int = 0, timeout: Optional[int] = None, *,
                 idle_timeout: Optional[int] = None, session_id: Optional[str] = None,
                 image: Optional[str] = None, egress: bool = False, addr: Optional[str] = None,
                 socket: Optional[str] = None, token: Optional[str] = None,
                 request_timeout: Optional[float] = 600.0, _connect_to: Optional[str] = None) -> None:
        self._transport = Transport(addr=addr, socket_path=socket, token=token,
                                    request_timeout=request_timeout)
        self.commands = Commands(self)
        self.files = Files(self)
        self._stopped = False
        if _connect_to is not None:
            self.session_id = _connect_to
            return
        body: Dict[str, Any] = {"vcpu": int(cpu), "memoryMb": int(mem_mb)}
        if session_id:
            body["sessionId"] = session_id
        if timeout is not None:
            body["maxLifetimeS"] = int(timeout) if timeout > 0 else -1
        if idle_timeout is not None:
            body["idleTimeoutS"] = int(idle_timeout) if idle_timeout > 0 else -1
        if image:
            body["image"] = image
        if egress:
            body["egress"] = True
        doc = self._transport.call(ENCLAVE, "StartSession", body)
        self.session_id: str = str(doc.get("sessionId", ""))
        if not self.session_id:
            raise EnclaveError("StartSession answered without a session id", "internal")
        self.status = str(doc.get("status", ""))

    # -- E2B-style names --------------------------------------------------------
    @property
    def sandbox_id(self) -> str:
        """The session id (E2B's name for it)."""
        return self.session_id

    @classmethod
    def connect(cls, session_id: str, **kw: Any) -> "Sandbox":
        """Attaches to a running session (stopping it is then up to you: :meth:`kill`)."""
        return cls(_connect_to=session_id, **kw)

    @classmethod
    def list(cls, **kw: Any) -> List[SessionInfo]:
        """The daemon's sessions (``addr``/``socket``/``token`` as for the constructor)."""
        t = Transport(addr=kw.get("addr"), socket_path=kw.get("socket"), token=kw.get("token"))
        doc = t.call(ENCLAVE, "ListSessions", {})
        return [SessionInfo(session_id=str(s.get("sessionId", "")), status=str(s.get("status", "")),
                            vcpu=_int(s.get("vcpu")), memory_mb=_int(s.get("memoryMb")),
                            kvm=bool(s.get("kvm")), idle_timeout_s=_int(s.get("idleTimeoutS")),
                            max_lifetime_s=_int(s.get("maxLifetimeS")), egress=bool(s.get("egress")))
                for s in doc.get("sessions") or []]

    # -- code --------------------------------------------------------------------
    def run_code(self, code: str, *, on_stdout: Optional[OutputHandler] = None,
                 on_stderr: Optional[OutputHandler] = None,
                 on_result: Optional[Callable[[Result], Any]] = None,
                 on_error: Optional[Callable[[ExecutionError], Any]] = None,
                 context_id: str = "", timeout: Optional[int] = None) -> Execution:
        """Runs a cell of Python in the session's long-lived interpreter:
        names defined by one cell are there for the next.

        Returns an :class:`Execution`: ``text`` is the repr of the last
        expression, ``results`` its rich forms (``image/png`` of a plot...),
        ``logs`` what was printed, ``error`` the exception if the cell raised
        (a raised cell is not a Python exception here, as in E2B).

        Args:
            context_id: a separate interpreter by name ("": the default one).
            timeout: seconds (default 30); then KeyboardInterrupt, then a restart.
        """
        body: Dict[str, Any] = {"sessionId": self.session_id, "code": code}
        if context_id:
            body["contextId"] = context_id
        if timeout:
            body["timeoutSeconds"] = int(timeout)
        ex = Execution()
        result: Optional[Result] = None
        for ev in self._transport.stream(ENCLAVE, "RunCode", body, timeout=self._stream_timeout(timeout)):
            if "stdout" in ev:
                ex.logs.stdout.append(str(ev["stdout"]))
                if on_stdout:
                    on_stdout(str(ev["stdout"]))
            elif "stderr" in ev:
                ex.logs.stderr.append(str(ev["stderr"]))
                if on_stderr:
                    on_stderr(str(ev["stderr"]))
            elif "text" in ev or "data" in ev:
                if result is None:
                    result = Result()
                    ex.results.append(result)
                if "text" in ev:
                    result.text = str(ev["text"])
                else:
                    d = ev["data"] or {}
                    result.data[str(d.get("mimeType", ""))] = base64.b64decode(d.get("data") or "")
            elif "error" in ev:
                e = ev["error"] or {}
                ex.error = ExecutionError(name=str(e.get("name", "")), value=str(e.get("value", "")),
                                          traceback=str(e.get("traceback", "")))
                if on_error:
                    on_error(ex.error)
            elif "done" in ev:
                d = ev["done"] or {}
                ex.execution_count = _int(d.get("executionCount"))
                ex.duration_ms = _int(d.get("durationMs"))
                ex.timed_out = bool(d.get("timedOut"))
                ex.interrupted = bool(d.get("interrupted"))
                ex.restarted = bool(d.get("restarted"))
                ex.truncated = bool(d.get("truncated"))
        if result is not None and on_result:
            on_result(result)
        return ex

    # -- lifetime ----------------------------------------------------------------
    def kill(self) -> None:
        """Stops the session (its VM and everything in it). Safe to call twice;
        a session already gone is not an error."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._transport.call(AGENT, "StopSession", {"sessionId": self.session_id}, timeout=120)
        except SessionNotFound:
            pass

    close = kill

    def is_running(self) -> bool:
        """Whether the session is still there and READY."""
        return any(s.session_id == self.session_id and s.status == "READY"
                   for s in Sandbox.list(addr=self._transport.addr, socket=self._transport.socket_path,
                                         token=self._transport.token))

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()

    def __repr__(self) -> str:
        return f"Sandbox(session_id={self.session_id!r})"

    # -- internals -----------------------------------------------------------------
    def _call(self, service: str, method: str, body: Dict[str, Any]) -> Dict[str, Any]:
        return self._transport.call(service, method, dict(body, sessionId=self.session_id))

    def _stream_timeout(self, timeout: Optional[int]) -> Optional[float]:
        """The socket timeout for a stream: longer than the call's own timeout."""
        rt = self._transport.request_timeout
        if timeout and rt is not None:
            return max(rt, float(timeout) + 30)
        return rt
