"""Results returned by the client (plain dataclasses)."""
import base64
from dataclasses import dataclass, field
from typing import Dict, List, Optional

__all__ = ["CommandResult", "EntryInfo", "WriteInfo", "Result", "ExecutionError", "Logs",
           "Execution", "SessionInfo"]


@dataclass
class CommandResult:
    """What ``commands.run`` returns once the program has ended.

    ``exit_code`` is the program's exit status (0 when a signal ended it;
    see ``signal``); ``timed_out`` is set when it was killed at its timeout;
    ``truncated`` when output past the daemon's cap was dropped."""
    exit_code: int
    stdout: str
    stderr: str
    signal: int = 0
    timed_out: bool = False
    truncated: bool = False
    duration_ms: int = 0
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""

    @property
    def error(self) -> Optional[str]:
        """A short description when the program failed, else None (as E2B's ``CommandResult.error``)."""
        if self.timed_out:
            return "timed out"
        if self.signal:
            return f"killed by signal {self.signal}"
        if self.exit_code:
            return f"exit code {self.exit_code}"
        return None


@dataclass
class EntryInfo:
    """One entry of ``files.list`` or ``files.stat``."""
    name: str
    type: str            # "file", "directory", "symlink", "other"
    size: int
    mode: int
    mtime_unix_ns: int
    path: str

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"


@dataclass
class WriteInfo:
    """What ``files.write`` wrote: the path, its size and SHA-256 (hex)."""
    path: str
    size: int
    sha256: str


@dataclass
class Result:
    """A value of a cell: ``text`` is its repr; ``data`` its rich forms by MIME type."""
    text: Optional[str] = None
    data: Dict[str, bytes] = field(default_factory=dict)

    @property
    def png(self) -> Optional[str]:
        """The PNG form, base64 encoded (as E2B's ``Result.png``), or None."""
        b = self.data.get("image/png")
        return base64.b64encode(b).decode() if b is not None else None

    @property
    def html(self) -> Optional[str]:
        b = self.data.get("text/html")
        return b.decode("utf-8", "replace") if b is not None else None

    def formats(self) -> List[str]:
        return list(self.data)


@dataclass
class ExecutionError:
    """The exception a cell raised: its class name, str() and traceback."""
    name: str
    value: str
    traceback: str


@dataclass
class Logs:
    """What a cell printed, in chunks as they arrived."""
    stdout: List[str] = field(default_factory=list)
    stderr: List[str] = field(default_factory=list)


@dataclass
class Execution:
    """The outcome of ``run_code``: the results, the logs, the error if the cell raised."""
    results: List[Result] = field(default_factory=list)
    logs: Logs = field(default_factory=Logs)
    error: Optional[ExecutionError] = None
    execution_count: int = 0
    duration_ms: int = 0
    timed_out: bool = False
    interrupted: bool = False
    restarted: bool = False
    truncated: bool = False

    @property
    def text(self) -> Optional[str]:
        """The repr of the cell's last expression, or None."""
        for r in self.results:
            if r.text is not None:
                return r.text
        return None


@dataclass
class SessionInfo:
    """A session as ``Sandbox.list`` shows it."""
    session_id: str
    status: str
    vcpu: int
    memory_mb: int
    kvm: bool
    idle_timeout_s: int
    max_lifetime_s: int
    egress: bool = False
