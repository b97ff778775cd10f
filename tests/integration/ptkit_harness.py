"""Helpers for ptkit's integration tests: launch PTs the way tor does, speak
SOCKS and the Extended ORPort, run small loopback services.

Everything here binds to loopback only. Tests that start tor or another
program that might dial out require a private network namespace
(see require_private_netns); `make check-integration` runs pytest inside one
(`unshare --net`).
"""
import hashlib
import hmac
import os
import selectors
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
    """A managed PT process: started with an environment, stdout read line by line."""

    def __init__(self, env, argv=None, exe=None):
        self.argv = [exe or PTKIT] + list(argv or [])
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self._buf = b""
        self.stderr_chunks = []
        self._errt = threading.Thread(target=self._drain_stderr, daemon=True)
        self._errt.start()

    def _drain_stderr(self):
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self.stderr_chunks.append(chunk)

    @property
    def stderr(self):
        return b"".join(self.stderr_chunks).decode(errors="replace")

    def readline(self, timeout=10.0):
        """Next stdout line (without newline) or None at EOF/timeout."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(left)
            sel.close()
            if not ready:
                return None
            data = os.read(fd, 4096)
            if not data:
                if self._buf:
                    line, self._buf = self._buf, b""
                    self.lines.append(line.decode(errors="replace"))
                    return self.lines[-1]
                return None
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        self.lines.append(line.decode(errors="replace"))
        return self.lines[-1]

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

    def rest(self, timeout=2.0):
        """All remaining stdout lines until EOF (the process must exit)."""
        out = []
        while True:
            l = self.readline(timeout)
            if l is None:
                return out
            out.append(l)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        self._errt.join(2)


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

    def __init__(self, handler, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(256)
        self.addr = self.sock.getsockname()[:2]
        self.handler = handler
        self.conns = 0
        self.errors = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
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

    def __init__(self, cookie, after=echo_handler, deny=False, bad_server_hash=False):
        self.cookie = cookie
        self.after = after
        self.deny = deny
        self.bad_server_hash = bad_server_hash
        self.sessions = []
        self.server = Server(self._handle)
        self.addr = self.server.addr

    def _handle(self, c):
        sess = {"auth": None, "useraddr": None, "transport": None, "early": b""}
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
        try:
            ch = recv_exact(c, 32, timeout=3)
        except (EOFError, socket.timeout, ConnectionError):
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
        c.settimeout(0.2)
        try:
            sess["early"] = c.recv(1)
        except socket.timeout:
            sess["early"] = b""
        c.settimeout(None)
        if self.deny:
            c.sendall(struct.pack(">HH", 0x1001, 0))
            return
        c.sendall(struct.pack(">HH", 0x1000, 0))
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
