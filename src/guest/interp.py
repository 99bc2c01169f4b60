"""Enclave interpreter driver: one long-lived Python context inside the VM.

enclave-init (PID 1) starts this as the workload user and talks to it over
pipes. Standard library only.

  PID 1 -> driver (stdin):  u32 big-endian length, then the cell's code (UTF-8).
  driver -> PID 1 (stdout): events, each a u32 big-endian length, then a kind
      byte, then fields: tag byte, u32 big-endian length, bytes.
      1 stdout    tag 1 text
      2 stderr    tag 1 text
      3 result    tag 1 repr, then pairs of tag 2 mime type and tag 3 data
      4 error     tag 4 name, tag 5 value, tag 6 traceback
      5 done      tag 7 status byte (0 ok, 1 error, 2 interrupted), tag 8 u32 count

Names defined by one cell stay for the next. A cell whose last statement is
an expression has its value reported as a result (and bound to `_`), as a
notebook shows it: its repr, plus the rich forms the object offers
(_repr_html_, _repr_png_, ..., a matplotlib figure as image/png). SIGINT
raises KeyboardInterrupt in the cell; between cells it is held back.
"""

import ast
import base64
import codecs
import io
import json
import linecache
import os
import signal
import struct
import sys
import threading
import traceback

MAX_TEXT_EVENT = 64 * 1024
MAX_RICH = 4 * 1024 * 1024
MARK = b"\x00\x1benclave-sync\x1b\x00"

_lock = threading.Lock()
_proto_in = os.dup(0)
_proto_out = os.dup(1)
_driver_err = os.dup(2)


def _field(tag, data):
    return struct.pack(">BI", tag, len(data)) + data


def _emit(kind, fields):
    body = bytes([kind]) + b"".join(fields)
    frame = struct.pack(">I", len(body)) + body
    # Never cut a frame in half: SIGINT waits while one is written.
    main = threading.current_thread() is threading.main_thread()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
    try:
        with _lock:
            view = memoryview(frame)
            while view:
                n = os.write(_proto_out, view)
                view = view[n:]
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _emit_text(kind, text):
    # At most 4 bytes a character: no event over MAX_TEXT_EVENT bytes.
    step = MAX_TEXT_EVENT // 4
    for i in range(0, len(text), step):
        _emit(kind, [_field(1, text[i:i + step].encode("utf-8", "replace"))])


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: text goes out as events, by line."""

    def __init__(self, kind, name):
        self._kind = kind
        self._buf = []
        self._size = 0
        self.name = name

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            self._buf.append(s)
            self._size += len(s)
            if "\n" in s or self._size > 8192:
                self.flush()
        return len(s)

    def flush(self):
        if self._buf:
            text = "".join(self._buf)
            self._buf = []
            self._size = 0
            _emit_text(self._kind, text)


class _FdPump(threading.Thread):
    """What child processes write to file descriptor 1 or 2 comes back as
    events too. sync() makes sure everything written so far has been sent."""

    def __init__(self, fd, kind):
        super().__init__(daemon=True)
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        self._fd = fd
        self._r = r
        self._kind = kind
        self._cv = threading.Condition()
        self._seen = 0
        self._sent = 0

    def run(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        buf = b""
        while True:
            data = os.read(self._r, 65536)
            if not data:
                return
            buf += data
            while True:
                i = buf.find(MARK)
                if i < 0:
                    break
                self._out(dec.decode(buf[:i]))
                buf = buf[i + len(MARK):]
                with self._cv:
                    self._seen += 1
                    self._cv.notify_all()
            keep = 0
            for k in range(min(len(MARK) - 1, len(buf)), 0, -1):
                if MARK.startswith(buf[-k:]):
                    keep = k
                    break
            self._out(dec.decode(buf[:len(buf) - keep]))
            buf = buf[len(buf) - keep:]

    def _out(self, text):
        if text:
            _emit_text(self._kind, text)

    def sync(self, timeout=2.0):
        self._sent += 1
        want = self._sent
        try:
            os.write(self._fd, MARK)
        except OSError:
            return
        with self._cv:
            self._cv.wait_for(lambda: self._seen >= want, timeout)


def _rich(value):
    out = []
    for meth, mime in (("_repr_html_", "text/html"), ("_repr_markdown_", "text/markdown"),
                       ("_repr_svg_", "image/svg+xml"), ("_repr_png_", "image/png"),
                       ("_repr_jpeg_", "image/jpeg"), ("_repr_latex_", "text/latex"),
                       ("_repr_json_", "application/json")):
        if isinstance(value, type):
            break
        f = getattr(value, meth, None)
        if not callable(f):
            continue
        try:
            data = f()
        except Exception:
            continue
        if isinstance(data, tuple):
            data = data[0]
        if data is None:
            continue
        if mime == "application/json":
            data = json.dumps(data).encode()
        elif isinstance(data, str):
            data = base64.b64decode(data) if mime in ("image/png", "image/jpeg") else data.encode("utf-8", "replace")
        if isinstance(data, (bytes, bytearray)) and len(data) <= MAX_RICH:
            out.append((mime, bytes(data)))
    fig = _figure_png(value)
    if fig is not None and not any(m == "image/png" for m, _ in out):
        out.append(("image/png", fig))
    return out


def _figure_png(value):
    mpl_figure = sys.modules.get("matplotlib.figure")
    if mpl_figure is None or not isinstance(value, mpl_figure.Figure):
        return None
    buf = io.BytesIO()
    try:
        value.savefig(buf, format="png")
    except Exception:
        return None
    data = buf.getvalue()
    return data if len(data) <= MAX_RICH else None


def _emit_result(value):
    try:
        text = repr(value)
    except Exception as e:  # a broken __repr__ is the cell's problem, not ours
        text = "<repr failed: %s: %s>" % (type(e).__name__, e)
    fields = [_field(1, text.encode("utf-8", "replace")[:MAX_RICH])]
    for mime, data in _rich(value):
        fields.append(_field(2, mime.encode()))
        fields.append(_field(3, data))
    _emit(3, fields)


def _open_figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        nums = plt.get_fignums()
        for n in nums:
            data = _figure_png(plt.figure(n))
            if data is not None:
                _emit(3, [_field(1, b"<Figure>"), _field(2, b"image/png"), _field(3, data)])
        plt.close("all")
    except Exception:
        pass


def _emit_error(etype, value, tb, filename):
    # Leave out the driver's own frames.
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    lines = traceback.format_exception(etype, value, tb)
    try:
        text = str(value)
    except Exception:
        text = "<str failed>"
    _emit(4, [_field(4, etype.__name__.encode()), _field(5, text.encode("utf-8", "replace")),
              _field(6, "".join(lines).encode("utf-8", "replace"))])


def _read_exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(_proto_in, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    pumps = [_FdPump(1, 1), _FdPump(2, 2)]
    for p in pumps:
        p.start()
    sys.stdout = _Stream(1, "<stdout>")
    sys.stderr = _Stream(2, "<stderr>")
    sys.stdin = open(os.devnull)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.path.insert(0, os.getcwd())
    count = 0
    while True:
        head = _read_exact(4)
        if head is None:
            return
        (length,) = struct.unpack(">I", head)
        code = _read_exact(length)
        if code is None:
            return
        count += 1
        status = _run_cell(code.decode("utf-8", "replace"), count, namespace)
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        for p in pumps:
            p.sync()
        _emit(5, [_field(7, bytes([status])), _field(8, struct.pack(">I", count))])


def _run_cell(code, count, namespace):
    filename = "<cell-%d>" % count
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    # An interrupt that came after the last cell ended must not hit this one.
    if signal.SIGINT in signal.sigpending():
        signal.sigwait({signal.SIGINT})
    status = 0
    try:
        try:
            tree = ast.parse(code, filename, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            body = compile(tree, filename, "exec")
            expr = compile(last, filename, "eval") if last is not None else None
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            try:
                exec(body, namespace)
                value = eval(expr, namespace) if expr is not None else None
            finally:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            if value is not None:
                namespace["_"] = value
                _emit_result(value)
            _open_figures()
        except KeyboardInterrupt:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            etype, value, tb = sys.exc_info()
            _emit_error(etype, value, tb, filename)
            status = 2
        except BaseException:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            etype, value, tb = sys.exc_info()
            _emit_error(etype, value, tb, filename)
            status = 1
    except KeyboardInterrupt:
        # Arrived while the error above was being reported.
        status = 2
    return status


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        os.write(_driver_err, traceback.format_exc().encode("utf-8", "replace"))
        raise
