"""obfs4 helpers for the integration tests: run ptkit or Debian's obfs4proxy
(0.0.14) as an obfs4 client or server the way tor does, pump data with
deadlines, record TCP streams, and compute the bridge's failed-handshake
close delay as obfs4proxy does (Go math/rand over the obfs4 hash DRBG).

Everything binds to loopback. Tests using these must still call
h.require_private_netns() first: obfs4proxy (and tor) may dial out.
"""
import hashlib
import hmac
import base64
import os
import selectors
import socket
import struct
import threading
import time

import ptkit_harness as h

OBFS4PROXY = os.environ.get("OBFS4PROXY", "/usr/bin/obfs4proxy")
HAVE_OBFS4PROXY = os.path.exists(OBFS4PROXY)
SLOW = os.environ.get("PTKIT_SLOW_TESTS") == "1"
MIB = 1024 * 1024


def pt_cmd(kind):
    """(exe, argv) for kind "ptkit" or "obfs4proxy" (with its debug log enabled)."""
    if kind == "ptkit":
        return None, ["--log-level", "debug"]
    if kind == "obfs4proxy":
        return OBFS4PROXY, ["-enableLogging", "-logLevel", "DEBUG"]
    raise ValueError(kind)


def start_pt(kind, env, pts=None):
    exe, argv = pt_cmd(kind)
    if pts is not None:
        return pts(env, argv, exe)
    return h.PT(env, argv, exe)


def unescape_pt_arg(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def split_unescaped(s, sep):
    parts, cur, i = [], "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            cur += s[i:i + 2]
            i += 2
            continue
        if s[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += s[i]
        i += 1
    parts.append(cur)
    return parts


def parse_smethod_args(rest):
    """{k: v} from the tokens after the address of an SMETHOD line (ARGS:k=v,k=v)."""
    args = {}
    for tok in rest:
        if tok.startswith("ARGS:"):
            for kv in split_unescaped(tok[5:], ","):
                k, _, v = kv.partition("=")
                args[unescape_pt_arg(k)] = unescape_pt_arg(v)
    return args


def config_lines(lines):
    """The lines other than LOG/STATUS (which tor accepts in any state)."""
    return [l for l in lines if not l.startswith(("LOG ", "STATUS "))]


def options_env(options):
    """TOR_PT_SERVER_TRANSPORT_OPTIONS value for obfs4 options [(k, v)] as tor escapes them."""
    def esc(s):
        return s.replace("\\", "\\\\").replace(":", "\\:").replace(";", "\\;")
    return ";".join("obfs4:%s=%s" % (esc(k), esc(v)) for k, v in options)


class Obfs4Server:
    """A managed obfs4 server PT (ptkit or obfs4proxy) relaying to `orport`
    (plain TOR_PT_ORPORT, no Extended ORPort). .addr, .cert, .iat, .args."""

    def __init__(self, kind, state_dir, orport, options=(), pts=None, timeout=15.0,
                 bind="127.0.0.1:0"):
        self.kind = kind
        self.state_dir = str(state_dir)
        env = h.base_env(state_dir, TOR_PT_SERVER_TRANSPORTS="obfs4",
                         TOR_PT_SERVER_BINDADDR="obfs4-" + bind,
                         TOR_PT_ORPORT="%s:%d" % tuple(orport),
                         TOR_PT_EXIT_ON_STDIN_CLOSE="1")
        env["TOR_PT_EXTENDED_SERVER_PORT"] = ""
        if options:
            env["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = options_env(options)
        self.env = env
        self.pt = start_pt(kind, env, pts)
        self.lines, methods = self.pt.config(done="SMETHODS DONE", timeout=timeout)
        assert config_lines(self.lines)[0] == "VERSION 1", (kind, self.lines)
        assert "obfs4" in methods, (kind, self.lines, self.pt.stderr[-2000:])
        host, port, rest = methods["obfs4"]
        self.addr = (host, port)
        self.args = parse_smethod_args(rest)
        self.cert = self.args.get("cert")
        self.iat = int(self.args.get("iat-mode", "-1"))

    def log_text(self):
        """obfs4proxy's own log file (state dir), or ptkit's stderr."""
        if self.kind == "obfs4proxy":
            try:
                with open(os.path.join(self.state_dir, "obfs4proxy.log"), errors="replace") as f:
                    return f.read()
            except OSError:
                return ""
        return self.pt.stderr

    def stop(self):
        self.pt.stop()


class Obfs4Client:
    """A managed obfs4 client PT (ptkit or obfs4proxy); .socks is its SOCKS5 address."""

    def __init__(self, kind, state_dir, pts=None, timeout=15.0):
        self.kind = kind
        self.state_dir = str(state_dir)
        env = h.base_env(state_dir, TOR_PT_CLIENT_TRANSPORTS="obfs4",
                         TOR_PT_EXIT_ON_STDIN_CLOSE="1")
        self.pt = start_pt(kind, env, pts)
        self.lines, methods = self.pt.config(done="CMETHODS DONE", timeout=timeout)
        assert config_lines(self.lines)[0] == "VERSION 1", (kind, self.lines)
        assert "obfs4" in methods, (kind, self.lines)
        host, port, rest = methods["obfs4"]
        assert rest == [], rest
        self.socks = (host, port)

    def connect(self, target, cert, iat, timeout=30.0):
        """SOCKS5 CONNECT with cert= and iat-mode= as tor sends them. Returns (sock, reply)."""
        return h.socks5_connect(self.socks, target[0], target[1],
                                args=[("cert", cert), ("iat-mode", str(iat))], timeout=timeout)

    def log_text(self):
        if self.kind == "obfs4proxy":
            try:
                with open(os.path.join(self.state_dir, "obfs4proxy.log"), errors="replace") as f:
                    return f.read()
            except OSError:
                return ""
        return self.pt.stderr

    def stop(self):
        self.pt.stop()


def random_cert():
    """A syntactically valid cert for an identity nobody has."""
    return base64.b64encode(os.urandom(52)).decode().rstrip("=")


def cert_parts(cert):
    raw = base64.b64decode(cert + "==")
    assert len(raw) == 52, len(raw)
    return raw[:20], raw[20:]


def client_mark(cert, first_flight):
    """M_C = HMAC-SHA256(B | NODEID, X')[:16] for the server with this cert."""
    node_id, pub = cert_parts(cert)
    return hmac.new(pub + node_id, first_flight[:32], hashlib.sha256).digest()[:16]


def read_bridgeline(state_dir):
    """(cert, iat) from obfs4_bridgeline.txt in state_dir."""
    with open(os.path.join(str(state_dir), "obfs4_bridgeline.txt")) as f:
        for line in f:
            if line.startswith("Bridge obfs4 "):
                kv = dict(t.split("=", 1) for t in line.split()[4:] if "=" in t)
                return kv["cert"], int(kv["iat-mode"])
    raise AssertionError("no Bridge line in obfs4_bridgeline.txt")


# ---- pumping data with deadlines ------------------------------------------------------

def pump(sock, payload, timeout, chunk=262144):
    """Write payload and read the echo at the same time, single-threaded.

    Returns (received_len, sha256_hex_of_received, seconds). Stops when
    len(payload) bytes came back, at EOF, or at the deadline (then the
    count is short and the caller's SHA-256 check fails)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    view = memoryview(payload)
    sent = got = 0
    hasher = hashlib.sha256()
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if payload else 0)
    sel.register(sock, events)
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


def echo_check(sock, payload, timeout, close_timeout=10.0):
    """pump() then half-close and expect the connection to end with no extra
    bytes. Returns (ok, message, seconds)."""
    want = hashlib.sha256(payload).hexdigest()
    n, digest, secs = pump(sock, payload, timeout)
    if n != len(payload) or digest != want:
        return False, "got %d of %d bytes back (sha256 %s, want %s) after %.1fs" % (
            n, len(payload), digest[:16], want[:16], secs), secs
    try:
        sock.shutdown(socket.SHUT_WR)
        extra = h.wait_closed(sock, close_timeout)
    except AssertionError as e:
        return False, "after the echo: %s" % e, secs
    except OSError:
        extra = b""
    if extra:
        return False, "%d extra bytes after the echo" % len(extra), secs
    return True, "", secs


def echo_server(servers):
    """A loopback echo service (the OR port stand-in); returns the Server."""
    return servers(h.Server(h.echo_handler))


# ---- a recording TCP relay -------------------------------------------------------------

class RelayRecord:
    def __init__(self):
        self.c2s = bytearray()         # everything the client sent
        self.flight = None             # what the client sent before the server's first byte
        self.s2c_len = 0               # bytes the server sent
        self.t_connected = None        # monotonic time the connection to the target completed
        self.t_server_closed = None    # monotonic time the target closed (EOF or reset)
        self.t_client_closed = None
        self.lock = threading.Lock()

    def first_flight(self):
        with self.lock:
            return bytes(self.flight if self.flight is not None else self.c2s)


class RecordingRelay:
    """Listens on loopback and relays every connection to `target`, recording
    both directions (RelayRecord per connection, in accept order).

    With pass_client_eof=False the client's EOF is NOT passed on (the target
    sees the connection stay open), so a prober's close timing is the
    server's own."""

    def __init__(self, target, pass_client_eof=True, timeout=120.0):
        self.target = tuple(target)
        self.pass_client_eof = pass_client_eof
        self.timeout = timeout
        self.records = []
        self.server = h.Server(self._handle)
        self.addr = self.server.addr

    def _handle(self, c):
        rec = RelayRecord()
        self.records.append(rec)
        try:
            s = socket.create_connection(self.target, timeout=10)
        except OSError:
            return
        rec.t_connected = time.monotonic()
        c.settimeout(self.timeout)
        s.settimeout(self.timeout)

        def s2c():
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

        t = threading.Thread(target=s2c, daemon=True)
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
        rec.t_client_closed = time.monotonic()
        if self.pass_client_eof:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t.join(self.timeout)
        s.close()

    def close(self):
        self.server.close()


# ---- obfs4's hash DRBG and Go's math/rand (close delay) ---------------------------------

_M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(key, msg):
    """SipHash-2-4 of msg with a 16-byte key, as a 64-bit integer."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(n):
        v0, v1, v2, v3 = v
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        v[:] = [v0, v1, v2, v3]

    n = len(msg) // 8 * 8
    for i in range(0, n, 8):
        m = struct.unpack_from("<Q", msg, i)[0]
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    m = ((len(msg) & 0xFF) << 56) | int.from_bytes(msg[n:], "little")
    v[3] ^= m
    rounds(2)
    v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


# A drbg-seed whose padding-length table has no 0 (87 values, a few under 64
# bytes; tests/unit/test_obfs4.c checks it). Tests that move data through an
# iat-mode=2 bridge give it this seed (iat_options), so obfs4proxy's panic on
# drawing a 0 (conftest.py, doc/obfs4.md) cannot strike on the bridge side,
# nor on an obfs4proxy client once it has read the bridge's seed; before
# that, its own random table is used, and that cannot be chosen.
IAT2_SAFE_SEED = "0ff0e45bf25d9669645f9c78b9e5a3736921c2b7e86abb2e"


def iat_options(iat):
    """Server transport options for iat-mode `iat` (with a fresh identity and
    IAT2_SAFE_SEED for iat-mode 2)."""
    opts = [("iat-mode", str(iat))]
    if iat == 2:
        opts = [("node-id", os.urandom(20).hex()), ("private-key", os.urandom(32).hex()),
                ("drbg-seed", IAT2_SAFE_SEED)] + opts
    return opts


class HashDrbg:
    """obfs4's common/drbg: SipHash-2-4 in OFB mode over one streaming hash
    (the hash state is never reset: block n hashes ofb0|block1|...|block n-1)."""

    def __init__(self, seed):
        assert len(seed) == 24
        self.key = bytes(seed[:16])
        self.ofb = bytes(seed[16:])
        self.stream = b""

    def next_block(self):
        self.stream += self.ofb
        self.ofb = siphash24(self.key, self.stream).to_bytes(8, "little")
        return self.ofb

    def int63(self):
        return int.from_bytes(self.next_block(), "big") & ((1 << 63) - 1)


def go_intn(int63, n):
    """Go math/rand (*Rand).Intn(n) for 0 < n < 2^31 over a source's Int63."""
    def int31():
        return int63() >> 32
    if n & (n - 1) == 0:
        return int31() & (n - 1)
    mx = (1 << 31) - 1 - (1 << 31) % n
    v = int31()
    while v > mx:
        v = int31()
    return v % n


def close_delay(seed):
    """The bridge's close delay (seconds) for failed handshakes:
    rand.New(HashDrbg(seed)).Intn(60)."""
    return go_intn(HashDrbg(seed).int63, 60)


def seed_with_delay(delay, tries=100000):
    """A random drbg-seed whose close delay is exactly `delay` seconds."""
    for _ in range(tries):
        seed = os.urandom(24)
        if close_delay(seed) == delay:
            return seed
    raise AssertionError("no seed found")


class FragmentingRelay:
    """Relays every connection to `target`, re-cutting both directions into
    small writes (TCP_NODELAY, a short pause after each) so the peer reads
    handshakes and frames in arbitrary pieces. The first `fine` bytes of each
    direction go in pieces of 1..small bytes, the rest in pieces of 1..large."""

    def __init__(self, target, fine=16384, small=40, large=3000, pause=0.0005, timeout=60.0):
        import random
        self.rng = random.Random(os.urandom(8))
        self.target = tuple(target)
        self.fine, self.small, self.large, self.pause = fine, small, large, pause
        self.timeout = timeout
        self.pieces = [0, 0]  # writes made client->server, server->client
        self.server = h.Server(self._handle)
        self.addr = self.server.addr

    def _pump(self, src, dst, idx):
        sent = 0
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                off = 0
                while off < len(d):
                    cap = self.small if sent < self.fine else self.large
                    n = self.rng.randint(1, cap)
                    dst.sendall(d[off:off + n])
                    off += n
                    sent += n
                    self.pieces[idx] += 1
                    if self.pause:
                        time.sleep(self.pause)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _handle(self, c):
        try:
            s = socket.create_connection(self.target, timeout=10)
        except OSError:
            return
        for x in (c, s):
            x.settimeout(self.timeout)
            x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = threading.Thread(target=self._pump, args=(s, c, 1), daemon=True)
        t.start()
        self._pump(c, s, 0)
        t.join(self.timeout)
        s.close()

    def close(self):
        self.server.close()


class TruncatingRelay:
    """Relays one direction in full and cuts the other: after `cut` bytes of
    it (counted after the client's first flight for "c2s", from the first
    byte for "s2c") it sends FIN on that direction and forwards nothing more,
    keeping both connections open. .t_cut is when the FIN went out."""

    def __init__(self, target, direction, cut, timeout=60.0):
        assert direction in ("c2s", "s2c")
        self.target, self.direction, self.cut, self.timeout = tuple(target), direction, cut, timeout
        self.t_cut = None
        self.forwarded = 0
        self.server = h.Server(self._handle)
        self.addr = self.server.addr

    def _handle(self, c):
        s = socket.create_connection(self.target, timeout=10)
        c.settimeout(self.timeout)
        s.settimeout(self.timeout)
        state = {"flight": None, "c2s": 0}
        lock = threading.Lock()

        def s2c():
            sent = 0
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    with lock:
                        if state["flight"] is None:
                            state["flight"] = state["c2s"]
                    if self.direction == "s2c":
                        room = self.cut - sent
                        c.sendall(d[:room])
                        sent += min(room, len(d))
                        self.forwarded = sent
                        if sent >= self.cut:
                            c.shutdown(socket.SHUT_WR)
                            self.t_cut = time.monotonic()
                            break
                    else:
                        c.sendall(d)
            except OSError:
                pass
            time.sleep(self.timeout)  # hold both connections open

        threading.Thread(target=s2c, daemon=True).start()
        sent_after = 0
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                with lock:
                    state["c2s"] += len(d)
                    flight = state["flight"]
                if self.direction == "c2s" and flight is not None:
                    room = self.cut - sent_after
                    s.sendall(d[:room])
                    sent_after += min(room, len(d))
                    self.forwarded = sent_after
                    if sent_after >= self.cut:
                        s.shutdown(socket.SHUT_WR)
                        self.t_cut = time.monotonic()
                        break
                else:
                    s.sendall(d)
        except OSError:
            pass
        time.sleep(self.timeout)
        s.close()

    def close(self):
        self.server.close()
