"""Enclave's Python client: sessions (microVMs) that run code, programs and
files under a policy, shaped like E2B's SDK.

>>> from enclave import Sandbox
>>> with Sandbox(cpu=1, mem_mb=512, timeout=300) as sb:
...     print(sb.run_code("6 * 7").text)
42

Standard library only (Connect JSON over HTTP/1.1). The daemon and the token
are found as the ``enclave`` CLI finds them.
"""
from .aio import AsyncSandbox
from .errors import (EnclaveError, InvalidArgument, PolicyDenied, SessionNotFound, Timeout,
                     Unauthenticated, Unavailable)
from .models import (CommandResult, EntryInfo, Execution, ExecutionError, Logs, Result,
                     SessionInfo, WriteInfo)
from .sandbox import Sandbox

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "AsyncSandbox",
    "EnclaveError", "PolicyDenied", "SessionNotFound", "Timeout", "Unauthenticated",
    "Unavailable", "InvalidArgument",
    "CommandResult", "EntryInfo", "Execution", "ExecutionError", "Logs", "Result",
    "SessionInfo", "WriteInfo",
]
