"""The asyncio client: :class:`AsyncSandbox`.

The wire client is blocking (http.client, standard library only), so each
call runs in a worker thread (``asyncio.to_thread``) and the event loop is
never blocked. Output callbacks run on the event loop's thread, in order;
a callback may be a plain function or a coroutine function.
"""
import asyncio
import inspect
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Union

from .models import CommandResult, EntryInfo, Execution, SessionInfo, WriteInfo
from .sandbox import Sandbox

__all__ = ["AsyncSandbox"]


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Optional[Callable[..., Any]],
             pending: List["asyncio.Future[Any]"]) -> Optional[Callable[..., None]]:
    """A thread-side callback that hands each call to fn on the loop."""
    if fn is None:
        return None

    def call(*args: Any) -> None:
        async def run() -> None:
            r = fn(*args)
            if inspect.isawaitable(r):
                await r
        pending.append(asyncio.run_coroutine_threadsafe(run(), loop))
    return call


async def _drain(pending: List["asyncio.Future[Any]"]) -> None:
    for f in pending:
        await asyncio.wrap_future(f)


class AsyncCommands:
    """``sandbox.commands`` of an :class:`AsyncSandbox`."""

    def __init__(self, sb: "AsyncSandbox") -> None:
        self._sb = sb

    async def run(self, cmd: Union[str, Sequence[str]], *,
                  on_stdout: Optional[Callable[[str], Any]] = None,
                  on_stderr: Optional[Callable[[str], Any]] = None, **kw: Any) -> CommandResult:
        """As :meth:`enclave.Commands.run`; callbacks run on the event loop."""
        loop = asyncio.get_running_loop()
        pending: List["asyncio.Future[Any]"] = []
        try:
            return await asyncio.to_thread(self._sb._sync.commands.run, cmd,
                                           on_stdout=_on_loop(loop, on_stdout, pending),
                                           on_stderr=_on_loop(loop, on_stderr, pending), **kw)
        finally:
            await _drain(pending)


class AsyncFiles:
    """``sandbox.files`` of an :class:`AsyncSandbox`."""

    def __init__(self, sb: "AsyncSandbox") -> None:
        self._files = sb._sync.files

    async def write(self, path: str, data: Union[bytes, bytearray, str, BinaryIO]) -> WriteInfo:
        return await asyncio.to_thread(self._files.write, path, data)

    async def read(self, path: str, format: str = "bytes") -> Any:
        if format == "stream":
            raise ValueError("AsyncSandbox.files.read has no 'stream' format: use download()")
        return await asyncio.to_thread(self._files.read, path, format)

    async def download(self, path: str, fileobj: BinaryIO) -> int:
        return await asyncio.to_thread(self._files.download, path, fileobj)

    async def list(self, path: str = "/workspace") -> List[EntryInfo]:
        return await asyncio.to_thread(self._files.list, path)

    async def stat(self, path: str) -> EntryInfo:
        return await asyncio.to_thread(self._files.stat, path)

    async def exists(self, path: str) -> bool:
        return await asyncio.to_thread(self._files.exists, path)

    async def remove(self, path: str, recursive: bool = False) -> None:
        await asyncio.to_thread(self._files.remove, path, recursive)

    async def make_dir(self, path: str, parents: bool = True) -> EntryInfo:
        return await asyncio.to_thread(self._files.make_dir, path, parents)


class AsyncSandbox:
    """The asyncio form of :class:`enclave.Sandbox`::

        async with await AsyncSandbox.create(cpu=1) as sb:
            r = await sb.run_code("1 + 1")

    ``create`` takes the same arguments as ``Sandbox``.
    """

    def __init__(self, sync: Sandbox) -> None:
        self._sync = sync
        self.session_id = sync.session_id
        self.commands = AsyncCommands(self)
        self.files = AsyncFiles(self)

    @classmethod
    async def create(cls, *args: Any, **kw: Any) -> "AsyncSandbox":
        """Starts a session (waits until it is READY)."""
        return cls(await asyncio.to_thread(Sandbox, *args, **kw))

    @classmethod
    async def connect(cls, session_id: str, **kw: Any) -> "AsyncSandbox":
        return cls(Sandbox.connect(session_id, **kw))

    @classmethod
    async def list(cls, **kw: Any) -> List[SessionInfo]:
        return await asyncio.to_thread(Sandbox.list, **kw)

    @property
    def sandbox_id(self) -> str:
        return self.session_id

    async def run_code(self, code: str, *, on_stdout: Optional[Callable[[str], Any]] = None,
                       on_stderr: Optional[Callable[[str], Any]] = None, **kw: Any) -> Execution:
        """As :meth:`enclave.Sandbox.run_code`; callbacks run on the event loop."""
        loop = asyncio.get_running_loop()
        pending: List["asyncio.Future[Any]"] = []
        try:
            return await asyncio.to_thread(self._sync.run_code, code,
                                           on_stdout=_on_loop(loop, on_stdout, pending),
                                           on_stderr=_on_loop(loop, on_stderr, pending), **kw)
        finally:
            await _drain(pending)

    async def kill(self) -> None:
        await asyncio.to_thread(self._sync.kill)

    close = kill

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.kill()

    def __repr__(self) -> str:
        return f"AsyncSandbox(session_id={self.session_id!r})"


