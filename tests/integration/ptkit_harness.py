"""Helpers for ptkit's integration tests: launch PTs the way tor does, speak
SOCKS and the Extended ORPort, run small loopback services.

Everything here binds to loopback only. Tests that start tor or another
program that might dial out require a private network namespace
(see require_private_netns); `make check-integration` runs pytest inside one
(`unshare --net`).
"""
import base64
import collections
import hashlib
import hmac
import os
import signal
import socket
import struct
import subprocess
import threading
import time

PTKIT = os.environ.get("PTKIT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "ptkit")

COOKIE_HEADER = b"! Extended ORPort Auth Cookie !\n"


def in_private_netns():
    """True if this process's network namespace has only the loopback interface."""
    try:
        names = [n for _, n in socket.if_nameindex()]
    except OSError:
        return False
    return names == ["lo"]


def require_private_netns():
    import pytest
    if not in_private_netns():
        pytest.fail("this test starts a program that may dial out: run it inside a private "
                    "network namespace (make check-integration does: unshare --net)")


def base_env(state_dir, **extra):
    env = {"TOR_PT_MANAGED_TRANSPORT_VER": "1", "TOR_PT_STATE_LOCATION": str(state_dir) + "/",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


class PT:
    """A managed PT process: started with an environment, stdout read line by line.

    stdout and stderr are drained by background threads, so a PT that logs a
    lot can never block on a full pipe while a test is busy elsewhere.
    stop() fails (AssertionError) if the PT's stderr holds a sanitizer report
    (ASan, UBSan, LeakSanitizer) -- see sanitizer_hits()."""

    live = set()  # started and not yet stopped (to clean up when a check fails)

    def __init__(self, env, argv=None, exe=None):
        self.argv = [exe or PTKIT] + list(argv or [])
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.lines = []  # lines returned by readline() so far
        self._pending = collections.deque()  # complete lines not yet returned
        self._out_eof = False
        self._cv = threading.Condition()
        self.stderr_chunks = []
        self._errt = threading.Thread(target=self._drain_stderr, daemon=True)
        self._errt.start()
        self._outt = threading.Thread(target=self._drain_stdout, daemon=True)
        self._outt.start()
        PT.live.add(self)

    def _drain_stderr(self):
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self.stderr_chunks.append(chunk)

    def _drain_stdout(self):
        fd = self.proc.stdout.fileno()
        buf = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cv:
                if not data:
                    if buf:
                        self._pending.append(buf)
                    self._out_eof = True
                    self._cv.notify_all()
                    return
                buf += data
                *complete, buf = buf.split(b"\n")
                self._pending.extend(complete)
                self._cv.notify_all()

    @property
    def stderr(self):
        return b"".join(self.stderr_chunks).decode(errors="replace")

    def readline(self, timeout=10.0):
        """Next stdout line (without newline) or None at EOF/timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not self._pending:
                left = deadline - time.monotonic()
                if self._out_eof or left <= 0:
                    return None
                self._cv.wait(left)
            line = self._pending.popleft()
        self.lines.append(line.decode(errors="replace"))
        return self.lines[-1]

    def unread(self):
        """Lines received but not returned by readline() yet (without consuming them)."""
        with self._cv:
            return [l.decode(errors="replace") for l in self._pending]

    def read_until(self, pred, timeout=10.0):
        """Read lines until pred(line) is true; returns all lines read (config lines)."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"PT ended/timed out before expected line; got {got!r}; "
                                     f"stderr: {self.stderr[-2000:]}")
            got.append(line)
            if pred(line):
                return got

    def wait_line(self, pred, timeout=5.0):
        """Read lines until one satisfies pred; return it (AssertionError on EOF/timeout)."""
        return self.read_until(pred, timeout)[-1]

    def config(self, done="METHODS DONE", timeout=10.0):
        """Read the configuration phase; returns {transport: (host, port, rest)}."""
        lines = self.read_until(lambda l: l.endswith(done), timeout)
        methods = {}
        for l in lines:
            parts = l.split(" ")
            if parts[0] == "CMETHOD":
                methods[parts[1]] = split_addr(parts[3]) + (parts[4:],)
            elif parts[0] == "SMETHOD":
                methods[parts[1]] = split_addr(parts[2]) + (parts[3:],)
        return lines, methods

    def wait(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self):
        return self.proc.poll() is None

    def rest(self, timeout=2.0):
        """All remaining stdout lines until EOF (the process must exit)."""
        out = []
        while True:
            l = self.readline(timeout)
            if l is None:
                return out
            out.append(l)

    def _terminate(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait()
        try:
            self.proc.stdin.close()
        except Exception:
            pass
        self._outt.join(2)
        self._errt.join(2)
        if not self._outt.is_alive():
            try:
                self.proc.stdout.close()
            except Exception:
                pass
        PT.live.discard(self)

    def sanitizer_report(self):
        """The sanitizer report in this PT's stderr, or None."""
        return sanitizer_hits(self.stderr)

    def stop(self, check_sanitizers=True):
        """SIGTERM (SIGKILL after 5 s), then fail if stderr holds a sanitizer report."""
        self._terminate()
        if check_sanitizers:
            report = self.sanitizer_report()
            if report:
                for other in list(PT.live):  # the caller's loop stops at our exception
                    other._terminate()
                raise AssertionError(f"sanitizer report from {self.argv}:\n{report}")


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "ERROR: ThreadSanitizer", "ERROR: MemorySanitizer")


def sanitizer_hits(text):
    """The part of text from the first sanitizer marker on (max 6000 chars), or None."""
    idx = [text.find(m) for m in SANITIZER_MARKERS if m in text]
    if not idx:
        return None
    start = max(0, text.rfind("\n", 0, min(idx)) + 1)
    return text[start:start + 6000]


def run_ptkit(argv, env=None, timeout=10.0, stdin=b""):
    """Run ptkit to completion (CLI tests). Returns (rc, stdout, stderr) as text;
    fails on a timeout or a sanitizer report."""
    if env is None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
    p = subprocess.run([PTKIT] + list(argv), env=env, input=stdin, capture_output=True,
                       timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    report = sanitizer_hits(err)
    assert not report, f"sanitizer report from ptkit {argv}:\n{report}"
    return p.returncode, out, err


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def recv_exact(sock, n, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_upto(sock, n, timeout=10.0):
    """Up to n bytes: returns (data, eof) where eof is True if the peer closed
    (or reset) before n bytes came, False if n bytes came or the timeout hit."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except socket.timeout:
            return data, False
        except ConnectionError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def wait_closed(sock, timeout=5.0):
    """Read until the peer closes; returns the bytes read before EOF/reset.
    Raises AssertionError if the connection is still open after timeout."""
    sock.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"connection still open after {timeout}s (got {got!r})")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s (got {got!r})")
        except ConnectionError:
            return got
        if not chunk:
            return got
        got += chunk


def recv_all(sock, timeout=10.0):
    sock.settimeout(timeout)
    out = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(out)
        out.append(chunk)


def encode_args(args):
    """Client args as tor encodes them: escape ';' and '\\' in each k=v, join with ';'."""
    def esc(s):
        return s.replace("\\", "\\\\").replace(";", "\\;")
    return ";".join(esc(k) + "=" + esc(v) for k, v in args)


def socks5_connect(proxy, host, port, args=None, timeout=10.0):
    """SOCKS5 CONNECT exactly as tor does it. Returns (sock, reply_code)."""
    s = socket.create_connection(proxy, timeout=timeout)
    if args:
        s.sendall(b"\x05\x02\x00\x02")
    else:
        s.sendall(b"\x05\x01\x00")
    ver, method = recv_exact(s, 2)
    assert ver == 5, ver
    if args:
        assert method == 2, f"PT chose method {method}, args would be lost"
        a = encode_args(args).encode() if not isinstance(args, bytes) else args
        if len(a) <= 255:
            user, pw = a, b"\x00"
        else:
            user, pw = a[:255], a[255:]
        s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
        aver, status = recv_exact(s, 2)
        if status != 0:
            return s, ("auth", status)
    else:
        assert method == 0
    s.sendall(socks5_request(host, port))
    return s, read_socks5_reply(s)


def socks5_request(host, port):
    try:
        packed = socket.inet_pton(socket.AF_INET, host)
        atyp = b"\x01" + packed
    except OSError:
        try:
            packed = socket.inet_pton(socket.AF_INET6, host)
            atyp = b"\x04" + packed
        except OSError:
            atyp = b"\x03" + bytes([len(host)]) + host.encode()
    return b"\x05\x01\x00" + atyp + struct.pack(">H", port)


def read_socks5_reply(s):
    head = recv_exact(s, 4)
    atyp = head[3]
    if atyp == 1:
        recv_exact(s, 6)
    elif atyp == 4:
        recv_exact(s, 18)
    elif atyp == 3:
        n = recv_exact(s, 1)[0]
        recv_exact(s, n + 2)
    return head[1]


def socks4_connect(proxy, host, port, userid=b"", timeout=10.0):
    """SOCKS4 (IPv4 literal) or 4a (name). Returns (sock, reply byte)."""
    s = socket.create_connection(proxy, timeout=timeout)
    try:
        ip = socket.inet_pton(socket.AF_INET, host)
        req = b"\x04\x01" + struct.pack(">H", port) + ip + userid + b"\x00"
    except OSError:
        req = (b"\x04\x01" + struct.pack(">H", port) + b"\x00\x00\x00\x01" + userid + b"\x00"
               + host.encode() + b"\x00")
    s.sendall(req)
    rep = recv_exact(s, 8)
    return s, rep[1]


class Server:
    """A threaded loopback TCP server; handler(conn) runs per connection."""

    def __init__(self, handler, host="127.0.0.1", port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(256)
        self.addr = self.sock.getsockname()[:2]
        self.handler = handler
        self.conns = 0
        self.peers = []  # (host, port) of every accepted connection, in order
        self.errors = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            self.peers.append(tuple(peer[:2]))
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self.handler(c)
        except Exception as e:  # recorded for the test to inspect
            self.errors.append(e)
        finally:
            c.close()

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            c.shutdown(socket.SHUT_WR)
            return
        c.sendall(d)


def make_cookie(path):
    cookie = os.urandom(32)
    with open(path, "wb") as f:
        f.write(COOKIE_HEADER + cookie)
    os.chmod(path, 0o600)
    return cookie


class ExtORPortStub:
    """A minimal tor-side Extended ORPort: SAFE_COOKIE auth, records USERADDR and
    TRANSPORT, answers OKAY (or DENY), then hands the stream to `after`."""

    def __init__(self, cookie, after=echo_handler, deny=False, bad_server_hash=False,
                 early_wait=0.2, okay_extra=b""):
        self.cookie = cookie
        self.early_wait = early_wait  # how long to watch for bytes sent before OKAY
        self.okay_extra = okay_extra  # OR bytes sent in the same write as OKAY
        self.after = after
        self.deny = deny
        self.bad_server_hash = bad_server_hash
        self.sessions = []
        self.server = Server(self._handle)
        self.addr = self.server.addr

    def _handle(self, c):
        sess = {"auth": None, "useraddr": None, "transport": None, "early": b"",
                "peer": _peername(c)}
        self.sessions.append(sess)
        c.sendall(b"\x01\x00")
        if recv_exact(c, 1) != b"\x01":
            sess["auth"] = "bad-type"
            return
        cn = recv_exact(c, 32)
        sn = os.urandom(32)
        sh = hmac.new(self.cookie, b"ExtORPort authentication server-to-client hash" + cn + sn,
                      hashlib.sha256).digest()
        if self.bad_server_hash:
            sh = bytes(32)
        c.sendall(sh + sn)
        ch, eof = recv_upto(c, 32, timeout=3)
        sess["client_hash_bytes"] = ch  # what the PT sent after our ServerHash
        sess["client_eof"] = eof        # True: it closed (rather than went quiet)
        if len(ch) < 32:
            sess["auth"] = "client-gave-up"
            return
        want = hmac.new(self.cookie, b"ExtORPort authentication client-to-server hash" + cn + sn,
                        hashlib.sha256).digest()
        if not hmac.compare_digest(ch, want):
            sess["auth"] = "bad-client-hash"
            c.sendall(b"\x00")
            return
        sess["auth"] = "ok"
        c.sendall(b"\x01")
        while True:
            cmd, ln = struct.unpack(">HH", recv_exact(c, 4))
            body = recv_exact(c, ln)
            if cmd == 0x0001:
                sess["useraddr"] = body.decode()
            elif cmd == 0x0002:
                sess["transport"] = body.decode()
            elif cmd == 0x0000:
                break
        # A PT must wait for OKAY: anything it sent before our reply is a violation.
        c.settimeout(self.early_wait)
        try:
            sess["early"] = c.recv(1)
        except socket.timeout:
            sess["early"] = b""
        c.settimeout(None)
        if self.deny:
            c.sendall(struct.pack(">HH", 0x1001, 0))
            return
        c.sendall(struct.pack(">HH", 0x1000, 0) + self.okay_extra)
        self.after(c)

    def close(self):
        self.server.close()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def pump_through(sock, payload, chunk=65536):
    """Send payload while reading the echo; returns the bytes echoed back."""
    got = []
    total = [0]

    def reader():
        sock.settimeout(30)
        while total[0] < len(payload):
            d = sock.recv(262144)
            if not d:
                break
            got.append(d)
            total[0] += len(d)

    t = threading.Thread(target=reader)
    t.start()
    view = memoryview(payload)
    for i in range(0, len(payload), chunk):
        sock.sendall(view[i:i + chunk])
    t.join(60)
    return b"".join(got)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def _peername(c):
    try:
        return tuple(c.getpeername()[:2])
    except OSError:
        return None


# ---- small utilities -------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A loopback port that nothing listens on (bound once, then released)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout=5.0, what="condition", interval=0.05):
    """Poll pred() until it returns something true; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class DualStackServer:
    """The same handler on 127.0.0.1:P and [::1]:P (one port for both), so a
    name such as "localhost" reaches it whichever address it resolves to."""

    def __init__(self, handler):
        last = None
        for _ in range(50):
            v6 = Server(handler, "::1")
            try:
                v4 = Server(handler, "127.0.0.1", v6.addr[1])
            except OSError as e:
                v6.close()
                last = e
                continue
            self.v4, self.v6 = v4, v6
            self.port = v6.addr[1]
            self.addr = ("127.0.0.1", self.port)
            return
        raise last

    @property
    def conns(self):
        return self.v4.conns + self.v6.conns

    def close(self):
        self.v4.close()
        self.v6.close()


class Recorder:
    """Echo handler that also records every connection's received bytes."""

    def __init__(self):
        self.received = []  # one bytearray per connection, in accept order

    def __call__(self, c):
        got = bytearray()
        self.received.append(got)
        c.settimeout(30)
        while True:
            d = c.recv(65536)
            if not d:
                c.shutdown(socket.SHUT_WR)
                return
            got += d
            c.sendall(d)


def socks5_raw(proxy, data, timeout=5.0):
    """Connect to a SOCKS port, send raw bytes, return the socket."""
    s = socket.create_connection(proxy, timeout=timeout)
    if data:
        s.sendall(data)
    return s


def socks5_reply_bytes(code):
    """The exact reply ptkit sends: 05 code 00 01 0.0.0.0:0."""
    return bytes([5, code, 0, 1]) + bytes(6)


def echo_roundtrip(sock, n=4096):
    """Send n random bytes and check they come back; returns True."""
    payload = os.urandom(n)
    got = pump_through(sock, payload)
    assert sha256(got) == sha256(payload), f"echo mismatch: {len(got)} of {n} bytes back"
    return True


# ---- managed PT environments ---------------------------------------------------------

def client_env(state_dir, transports="plain", exit_on_stdin_close="1", **extra):
    """A client-role environment as tor writes it; extra TOR_PT_* override (None: unset)."""
    env = base_env(state_dir, TOR_PT_CLIENT_TRANSPORTS=transports,
                   TOR_PT_EXIT_ON_STDIN_CLOSE=exit_on_stdin_close)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def server_env(state_dir, transports="plain", bindaddr="plain-127.0.0.1:0", orport=None,
               extorport=None, cookie_file=None, exit_on_stdin_close="1", **extra):
    """A server-role environment as tor writes it (TOR_PT_EXTENDED_SERVER_PORT empty
    unless extorport is given); extra TOR_PT_* override (None: unset)."""
    env = base_env(state_dir, TOR_PT_SERVER_TRANSPORTS=transports,
                   TOR_PT_SERVER_BINDADDR=bindaddr,
                   TOR_PT_ORPORT=orport or "127.0.0.1:%d" % free_port(),
                   TOR_PT_EXIT_ON_STDIN_CLOSE=exit_on_stdin_close)
    env["TOR_PT_EXTENDED_SERVER_PORT"] = extorport or ""
    if cookie_file is not None:
        env["TOR_PT_AUTH_COOKIE_FILE"] = str(cookie_file)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def start_managed(pts, env, argv=None, transport="plain"):
    """Start a managed PT and read its configuration; returns (pt, lines, (host, port))."""
    pt = pts(env, argv)
    lines, methods = pt.config()
    assert lines[0] == "VERSION 1", lines
    assert transport in methods, lines
    host, port, _ = methods[transport]
    return pt, lines, (host, port)


# ---- the LOG line (pt-spec 3.3.4) ------------------------------------------------------

_CQ_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


def c_unquote(q):
    """Decode a C-quoted string as tor's unescape_string does: returns the text,
    or raises ValueError if q is not one well-formed quoted string."""
    if len(q) < 2 or q[0] != '"' or q[-1] != '"':
        raise ValueError(f"not quoted: {q!r}")
    body, out, i = q[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == '"' or ord(ch) < 0x20 or ord(ch) == 0x7f:
            raise ValueError(f"raw {ch!r} inside quotes: {q!r}")
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError(f"dangling backslash: {q!r}")
        e = body[i + 1]
        if e in _CQ_ESC:
            out += _CQ_ESC[e].encode()
            i += 2
        elif e in "01234567":
            oct_ = body[i + 1:i + 4]
            if len(oct_) != 3 or any(c not in "01234567" for c in oct_) or int(oct_, 8) > 255:
                raise ValueError(f"bad octal escape in {q!r}")
            out.append(int(oct_, 8))
            i += 4
        elif e == "x":
            hx = body[i + 2:i + 4]
            if len(hx) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hx):
                raise ValueError(f"bad hex escape in {q!r}")
            out.append(int(hx, 16))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e} in {q!r}")
    return out.decode(errors="replace")


LOG_SEVERITIES = ("error", "warning", "notice", "info", "debug")


def parse_log_line(line):
    """(severity, message) of a well-formed `LOG SEVERITY=<level> MESSAGE="<C-quoted>"`
    line; raises ValueError for anything else."""
    prefix = "LOG SEVERITY="
    if not line.startswith(prefix):
        raise ValueError(f"not a LOG line: {line!r}")
    sev, sep, rest = line[len(prefix):].partition(" MESSAGE=")
    if not sep or sev not in LOG_SEVERITIES:
        raise ValueError(f"bad LOG line: {line!r}")
    return sev, c_unquote(rest)


def log_messages(lines, severity=None):
    """Messages of the LOG lines among lines (optionally of one severity)."""
    out = []
    for l in lines:
        if l.startswith("LOG "):
            sev, msg = parse_log_line(l)
            if severity is None or sev == severity:
                out.append(msg)
    return out


# ---- upstream proxies (TOR_PT_PROXY) --------------------------------------------------

def relay(a, b, timeout=30.0):
    """Copy both ways between two sockets until both directions hit EOF."""
    def one(src, dst):
        src.settimeout(timeout)
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=one, args=(b, a), daemon=True)
    t.start()
    one(a, b)
    t.join(timeout)


def _recv_until(c, term, limit=65536, timeout=10.0):
    c.settimeout(timeout)
    data = b""
    while term not in data:
        d = c.recv(4096)
        if not d:
            raise EOFError(f"EOF before {term!r}: {data!r}")
        data += d
        if len(data) > limit:
            raise ValueError("too long")
    return data


class ProxyStub:
    """An upstream proxy of kind "socks5", "socks4a" or "http" (CONNECT), as
    TOR_PT_PROXY names one. Records each request in self.requests (dict with
    the credentials it received, the target asked for, and "outbound": the
    local address of its own connection to the target), then relays. With
    refuse=True it answers every request with a failure (refuse_code for
    socks5, 0x5b for socks4a, 403 for http) and closes."""

    def __init__(self, kind, user=None, password=None, refuse=False, refuse_code=0x02,
                 reply_extra=b"", silent=False):
        assert kind in ("socks5", "socks4a", "http")
        self.kind = kind
        self.reply_extra = reply_extra  # stream bytes sent in the same write as the reply
        self.silent = silent            # read the request, never answer
        self.user = user
        self.password = password
        self.refuse = refuse
        self.refuse_code = refuse_code
        self.requests = []
        self.server = Server(self._handle)
        self.addr = self.server.addr

    def url(self, user=None, password=None):
        """The TOR_PT_PROXY value (credentials raw, as tor writes them)."""
        user = self.user if user is None else user
        password = self.password if password is None else password
        creds = ""
        if user is not None:
            creds = user + (":" + password if password is not None else "") + "@"
        return "%s://%s%s:%d" % (self.kind, creds, self.addr[0], self.addr[1])

    def _handle(self, c):
        req = {"kind": self.kind, "user": None, "password": None, "methods": None,
               "host": None, "port": None, "atyp": None, "outbound": None, "status": None,
               "headers": {}, "request_line": None, "userid": None}
        self.requests.append(req)
        c.settimeout(10)
        early = getattr(self, "_" + self.kind)(c, req)
        if early is None:
            return
        if self.silent:
            req["status"] = "silent"
            c.settimeout(30)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass
            return
        try:
            t = socket.create_connection((req["host"], req["port"]), timeout=5)
        except OSError:
            req["status"] = "target-unreachable"
            self._fail(c)
            return
        req["outbound"] = t.getsockname()[:2]
        req["status"] = "ok"
        self._ok(c)
        if early:
            t.sendall(early)
        with t:
            relay(c, t)

    # each returns bytes that followed the request (b"" if none), or None if it closed
    def _socks5(self, c, req):
        ver, n = recv_exact(c, 2)
        methods = recv_exact(c, n)
        req["methods"] = methods
        if ver != 5:
            req["status"] = "bad-version"
            return None
        if self.user is not None:
            if 2 not in methods:
                req["status"] = "no-method"  # before the reply: tests check it right after
                c.sendall(b"\x05\xff")
                return None
            c.sendall(b"\x05\x02")
            aver, ulen = recv_exact(c, 2)
            user = recv_exact(c, ulen)
            plen = recv_exact(c, 1)[0]
            pw = recv_exact(c, plen)
            req["user"], req["password"] = user.decode(errors="replace"), pw.decode(errors="replace")
            if aver != 1 or user != self.user.encode() or pw != (self.password or "").encode():
                req["status"] = "bad-creds"  # before the reply: tests check it right after
                c.sendall(b"\x01\x01")
                return None
            c.sendall(b"\x01\x00")
        else:
            if 0 not in methods:
                req["status"] = "no-method"  # before the reply: tests check it right after
                c.sendall(b"\x05\xff")
                return None
            c.sendall(b"\x05\x00")
        ver, cmd, rsv, atyp = recv_exact(c, 4)
        req["atyp"] = atyp
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        elif atyp == 3:
            host = recv_exact(c, recv_exact(c, 1)[0]).decode()
        else:
            req["status"] = "bad-atyp"
            return None
        req["host"], req["port"] = host, struct.unpack(">H", recv_exact(c, 2))[0]
        req["cmd"] = cmd
        if self.refuse:
            req["status"] = "refused"  # before the reply: tests check it right after
            c.sendall(bytes([5, self.refuse_code, 0, 1]) + bytes(6))
            return None
        return b""

    def _socks4a(self, c, req):
        head = recv_exact(c, 8)
        req["cmd"] = head[1]
        port = struct.unpack(">H", head[2:4])[0]
        ip = head[4:8]
        rest = _recv_until(c, b"\x00")
        userid, _, rest = rest.partition(b"\x00")
        req["userid"] = userid
        if ip[:3] == b"\x00\x00\x00" and ip[3] != 0:
            while b"\x00" not in rest:
                d = c.recv(4096)
                if not d:
                    return None
                rest += d
            host, _, rest = rest.partition(b"\x00")
            req["atyp"] = 3
            req["host"] = host.decode()
        else:
            req["atyp"] = 1
            req["host"] = socket.inet_ntop(socket.AF_INET, ip)
        req["port"] = port
        req["version"] = head[0]
        if self.refuse:
            req["status"] = "refused"  # before the reply: tests check it right after
            c.sendall(b"\x00\x5b" + bytes(6))
            return None
        return rest

    def _http(self, c, req):
        data = _recv_until(c, b"\r\n\r\n")
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        req["request_line"] = lines[0]
        for l in lines[1:]:
            k, _, v = l.partition(":")
            req["headers"][k.strip().lower()] = v.strip()
        method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
        host, _, port = target.rpartition(":")
        req["host"], req["port"] = host.strip("[]"), int(port or 0)
        if self.user is not None:
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (self.user, self.password or "")).encode()).decode()
            if req["headers"].get("proxy-authorization") != want:
                req["status"] = "bad-creds"  # before the reply: tests check it right after
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n")
                return None
        if self.refuse or method != "CONNECT":
            req["status"] = "refused"  # before the reply: tests check it right after
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return None
        return rest

    def _ok(self, c):
        if self.kind == "socks5":
            c.sendall(b"\x05\x00\x00\x01" + bytes(6) + self.reply_extra)
        elif self.kind == "socks4a":
            c.sendall(b"\x00\x5a" + bytes(6) + self.reply_extra)
        else:
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" + self.reply_extra)

    def _fail(self, c):
        if self.kind == "socks5":
            c.sendall(b"\x05\x05\x00\x01" + bytes(6))
        elif self.kind == "socks4a":
            c.sendall(b"\x00\x5b" + bytes(6))
        else:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")

    def close(self):
        self.server.close()


# ---- bulk echo with a deadline (single-threaded) ----------------------------------------

def echo_stream(sock, payload, timeout, chunk=262144):
    """Write payload while reading its echo, in one thread (selectors).

    Returns (received_len, sha256_hex_of_received, seconds). Stops once
    len(payload) bytes came back, at EOF/reset, or at the deadline (then the
    count is short and the caller's SHA-256 comparison fails)."""
    import selectors
    t0 = time.monotonic()
    deadline = t0 + timeout
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    view = memoryview(payload)
    sent = got = 0
    hasher = hashlib.sha256()
    sel.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if payload else 0))
    try:
        while got < len(payload):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for _key, ev in sel.select(min(left, 1.0)):
                if ev & selectors.EVENT_WRITE and sent < len(payload):
                    try:
                        sent += sock.send(view[sent:sent + chunk])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        return got, hasher.hexdigest(), time.monotonic() - t0
                    if sent >= len(payload):
                        sel.modify(sock, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        d = sock.recv(1048576)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        return got, hasher.hexdigest(), time.monotonic() - t0
                    if not d:
                        return got, hasher.hexdigest(), time.monotonic() - t0
                    hasher.update(d)
                    got += len(d)
    finally:
        sel.close()
        sock.setblocking(True)
    return got, hasher.hexdigest(), time.monotonic() - t0


# ---- a recording TCP relay (what a client sent first, when the server closed) ----------

class TapRecord:
    """One relayed connection: c2s holds every byte the client sent; flight the
    bytes it sent before the server's first byte; s2c_len what the server sent;
    times are time.monotonic() (t_server_closed: the server's EOF or reset)."""

    def __init__(self):
        self.c2s = bytearray()
        self.flight = None
        self.s2c_len = 0
        self.t_connected = None
        self.t_server_closed = None
        self.lock = threading.Lock()

    def first_flight(self):
        with self.lock:
            return bytes(self.flight if self.flight is not None else self.c2s)


class Tap:
    """Listens on loopback and relays each connection to `target`, recording
    it (self.records, in accept order). The client's EOF is passed on."""

    def __init__(self, target, timeout=120.0):
        self.target = tuple(target)
        self.timeout = timeout
        self.records = []
        self.server = Server(self._handle)
        self.addr = self.server.addr

    def _handle(self, c):
        rec = TapRecord()
        self.records.append(rec)
        try:
            s = socket.create_connection(self.target, timeout=10)
        except OSError:
            return
        rec.t_connected = time.monotonic()
        c.settimeout(self.timeout)
        s.settimeout(self.timeout)

        def down():
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    with rec.lock:
                        if rec.flight is None:
                            rec.flight = bytes(rec.c2s)
                        rec.s2c_len += len(d)
                    c.sendall(d)
            except OSError:
                pass
            rec.t_server_closed = time.monotonic()
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=down, daemon=True)
        t.start()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                with rec.lock:
                    rec.c2s += d
                s.sendall(d)
        except OSError:
            pass
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t.join(self.timeout)
        s.close()

    def close(self):
        self.server.close()
