"""obfs3 and obfs2 interoperability between ptkit and Debian's obfs4proxy
0.0.14, inside a private network namespace (obfs4proxy may dial out; every
test refuses to run outside one).

Path: tor-like SOCKS5 client -> client PT -> server PT -> TOR_PT_ORPORT echo
service -> back, every byte checked by SHA-256, for each transport and each
pairing (ptkit client -> obfs4proxy server, obfs4proxy client -> ptkit
server, ptkit <-> ptkit): 16 MiB each way on one connection, then 50
concurrent connections.

Also obfs2's optional "shared-secret" (Python obfsproxy's; ptkit has it,
obfs4proxy refuses it: client arg -> SOCKS general failure, server option ->
no obfs2 listener), and how each server treats garbage (obfs3: 192 bytes taken as a
key, then closed once 8226 more bytes hold no magic; obfs2: closed once 24
bytes give a wrong magic; no silent-probe delay in either), which ptkit
must match.
"""
import os
import socket
import threading
import time

import pytest

import ptkit_harness as h

OBFS4PROXY = os.environ.get("OBFS4PROXY", "/usr/bin/obfs4proxy")
MIB = 1024 * 1024
TRANSPORTS = ["obfs3", "obfs2"]
PAIRS = [("ptkit", "obfs4proxy"), ("obfs4proxy", "ptkit"), ("ptkit", "ptkit")]

pytestmark = pytest.mark.skipif(not os.path.exists(OBFS4PROXY),
                                reason="obfs4proxy is not installed")


def pair_id(p):
    return "%s-to-%s" % p


def start_pt(pts, kind, env):
    if kind == "obfs4proxy":
        return pts(env, ["-enableLogging", "-logLevel", "DEBUG"], OBFS4PROXY)
    return pts(env, ["--log-level", "info"])


def log_text(kind, pt, state_dir):
    """obfs4proxy's own log file (state dir), or ptkit's stderr."""
    if kind == "obfs4proxy":
        try:
            with open(os.path.join(str(state_dir), "obfs4proxy.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""
    return pt.stderr


class Side:
    """A managed PT (client or server role) for one transport."""

    def __init__(self, pts, kind, transport, state_dir, server_orport=None, options=None):
        self.kind, self.transport, self.state_dir = kind, transport, state_dir
        if server_orport is None:
            env = h.client_env(state_dir, transports=transport)
            done = "CMETHODS DONE"
        else:
            extra = {}
            if options:
                extra["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = options
            env = h.server_env(state_dir, transports=transport,
                               bindaddr="%s-127.0.0.1:0" % transport,
                               orport="%s:%d" % tuple(server_orport), **extra)
            done = "SMETHODS DONE"
        self.pt = start_pt(pts, kind, env)
        self.lines, self.methods = self.pt.config(done=done, timeout=15)
        self.addr = None
        if transport in self.methods:
            host, port, rest = self.methods[transport]
            self.addr = (host, port)
            self.rest = rest

    def log(self):
        return log_text(self.kind, self.pt, self.state_dir)


def setup_pair(pts, servers, tmp_path, transport, client_kind, server_kind):
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, server_kind, transport, tmp_path / "server", server_orport=echo.addr)
    assert srv.addr, (server_kind, srv.lines)
    # no server args (obfs4proxy prints an empty "ARGS:", ptkit none)
    assert [t for t in srv.rest if t.startswith("ARGS:") and t != "ARGS:"] == [], srv.rest
    cli = Side(pts, client_kind, transport, tmp_path / "client")
    assert cli.addr, (client_kind, cli.lines)
    return echo, srv, cli


def echo_check(sock, payload, timeout):
    """(ok, message, seconds): the whole echo, then a clean close after our EOF."""
    want = h.sha256(payload)
    n, digest, secs = h.echo_stream(sock, payload, timeout)
    if n != len(payload) or digest != want:
        return False, "got %d of %d bytes back (sha256 %s, want %s) after %.1fs" % (
            n, len(payload), digest[:16], want[:16], secs), secs
    try:
        sock.shutdown(socket.SHUT_WR)
        extra = h.wait_closed(sock, 10)
    except AssertionError as e:
        return False, "after the echo: %s" % e, secs
    except OSError:
        extra = b""
    if extra:
        return False, "%d extra bytes after the echo" % len(extra), secs
    return True, "", secs


def failure_context(cli, srv):
    return "\nclient (%s) log tail: %s\nserver (%s) log tail: %s" % (
        cli.kind, cli.log()[-1500:], srv.kind, srv.log()[-1500:])


# ---- bulk and concurrency --------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bulk_16mib_each_way(pts, servers, tmp_path, transport, pair):
    h.require_private_netns()
    client_kind, server_kind = pair
    echo, srv, cli = setup_pair(pts, servers, tmp_path, transport, client_kind, server_kind)
    s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1], timeout=30)
    assert rep == 0, "%s client: SOCKS reply %r%s" % (client_kind, rep, failure_context(cli, srv))
    size = 16 * MIB
    payload = os.urandom(size)
    ok, msg, secs = echo_check(s, payload, 180.0)
    s.close()
    print("\n[%s %s->%s] 16 MiB each way in %.2fs: %.1f MiB/s each way" % (
        transport, client_kind, server_kind, secs, size / MIB / secs))
    assert ok, "%s %s -> %s: %s%s" % (transport, client_kind, server_kind, msg,
                                      failure_context(cli, srv))
    assert echo.conns == 1, "the OR port saw %d connections, want 1" % echo.conns
    assert cli.pt.alive() and srv.pt.alive()


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_50_concurrent(pts, servers, tmp_path, transport, pair):
    h.require_private_netns()
    client_kind, server_kind = pair
    echo, srv, cli = setup_pair(pts, servers, tmp_path, transport, client_kind, server_kind)
    n = 50
    results = [None] * n
    start = threading.Barrier(n + 1, timeout=30)

    def one(i):
        payload = i.to_bytes(4, "big") * 16 + os.urandom(256 * 1024 + 997 * i)
        try:
            start.wait()
            s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1], timeout=60)
        except Exception as e:  # recorded, reported below
            results[i] = (False, "connect: %r" % (e,))
            return
        if rep != 0:
            results[i] = (False, "SOCKS reply %r" % (rep,))
            s.close()
            return
        ok, msg, _ = echo_check(s, payload, 120.0)
        s.close()
        results[i] = (ok, msg)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(max(0.1, 180 - (time.monotonic() - t0)))
    secs = time.monotonic() - t0
    bad = [(i, r) for i, r in enumerate(results) if not (r and r[0])]
    print("\n[%s %s->%s] %d concurrent connections x ~0.27 MiB echoed in %.2fs" % (
        transport, client_kind, server_kind, n, secs))
    assert not bad, "%s %s -> %s: %d of %d connections failed; first: %r%s" % (
        transport, client_kind, server_kind, len(bad), n, bad[:5], failure_context(cli, srv))
    assert echo.conns == n, "the OR port saw %d connections, want %d" % (echo.conns, n)
    assert cli.pt.alive() and srv.pt.alive()


# ---- obfs2 shared-secret: Python obfsproxy's option; ptkit has it, obfs4proxy refuses it ------

def test_obfs2_shared_secret_ptkit_to_ptkit(pts, servers, tmp_path):
    """ServerTransportOptions obfs2:shared-secret=... and the client's SOCKS
    arg: data flows; a wrong secret or none reaches nothing behind the server."""
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, "ptkit", "obfs2", tmp_path / "server", server_orport=echo.addr,
               options="obfs2:shared-secret=hunter2")
    assert srv.addr, srv.lines
    assert [t for t in srv.rest if t.startswith("ARGS:")] == [], srv.rest  # not advertised
    cli = Side(pts, "ptkit", "obfs2", tmp_path / "client")
    s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1],
                              args=[("shared-secret", "hunter2")], timeout=15)
    assert rep == 0, rep
    ok, msg, _ = echo_check(s, os.urandom(2 * MIB), 60)
    s.close()
    assert ok, msg + failure_context(cli, srv)
    assert echo.conns == 1, echo.conns
    for args in ([("shared-secret", "hunter3")], None):
        s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1], args=args, timeout=15)
        if rep == 0:  # the client is connected once its own flight is out; then it is closed
            s.settimeout(15)
            try:
                s.sendall(b"x" * 1000)
                got = s.recv(100)
            except OSError:
                got = b""
            assert got == b"", got
        s.close()
    time.sleep(0.5)
    assert echo.conns == 1, "a connection with the wrong secret reached the OR port"
    assert cli.pt.alive() and srv.pt.alive()


def test_obfs2_shared_secret_obfs4proxy_client_refuses(pts, servers, tmp_path):
    """obfs4proxy's client refuses the arg (SOCKS general failure) and still
    works without it against ptkit's plain obfs2 server."""
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, "ptkit", "obfs2", tmp_path / "server", server_orport=echo.addr)
    cli = Side(pts, "obfs4proxy", "obfs2", tmp_path / "client")
    s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1],
                              args=[("shared-secret", "hunter2")], timeout=15)
    s.close()
    assert rep == 1, "SOCKS reply %r, want 1 (general failure)" % rep
    s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1], timeout=15)
    assert rep == 0, rep
    ok, msg, _ = echo_check(s, os.urandom(100000), 30)
    s.close()
    assert ok, msg
    assert echo.conns == 1, echo.conns


def test_obfs2_shared_secret_obfs4proxy_server_refuses(pts, servers, tmp_path):
    """obfs4proxy opens no obfs2 listener with the option (SMETHOD-ERROR)."""
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    env = h.server_env(tmp_path / "server", transports="obfs2", bindaddr="obfs2-127.0.0.1:0",
                       orport="%s:%d" % tuple(echo.addr),
                       TOR_PT_SERVER_TRANSPORT_OPTIONS="obfs2:shared-secret=hunter2")
    pt = start_pt(pts, "obfs4proxy", env)
    lines = []
    while True:
        l = pt.readline(10)
        if l is None:
            break
        lines.append(l)
        if l.endswith("SMETHODS DONE"):
            break
    assert [l for l in lines if l.startswith("SMETHOD-ERROR obfs2")], lines
    assert not [l for l in lines if l.startswith("SMETHOD obfs2")], lines


def probe(addr, data, timeout=15.0):
    """Send data, then read until the server closes. Returns (bytes it sent, seconds after
    our last byte until it closed)."""
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(data)
    t0 = time.monotonic()
    got = h.wait_closed(s, timeout)
    secs = time.monotonic() - t0
    s.close()
    return got, secs


@pytest.mark.parametrize("kind", ["ptkit", "obfs4proxy"])
def test_obfs3_garbage_closes_at_scan_limit(pts, servers, tmp_path, kind):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, kind, "obfs3", tmp_path / "server", server_orport=echo.addr)
    # one byte short of the limit: the server keeps waiting
    s = socket.create_connection(srv.addr, timeout=10)
    s.sendall(os.urandom(192 + 8225))
    first, eof = h.recv_upto(s, 192 + 4098, timeout=2)
    assert not eof, "%s closed before the scan limit" % kind
    assert 192 <= len(first) <= 192 + 4097, len(first)  # PUB | padding 0..4097
    # the 8226th byte after the key: closed at once (no probe delay in obfs3)
    s.sendall(os.urandom(1))
    t0 = time.monotonic()
    h.wait_closed(s, 10)
    secs = time.monotonic() - t0
    s.close()
    assert secs < 5, "%s took %.1fs to close" % (kind, secs)


@pytest.mark.parametrize("kind", ["ptkit", "obfs4proxy"])
def test_obfs2_bad_magic_closes(pts, servers, tmp_path, kind):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, kind, "obfs2", tmp_path / "server", server_orport=echo.addr)
    got, secs = probe(srv.addr, os.urandom(24))
    assert 24 <= len(got) <= 24 + 8192, len(got)  # SEED | E(MAGIC | PADLEN | padding)
    assert secs < 5, "%s took %.1fs to close" % (kind, secs)
    assert echo.conns == 0, "a failed handshake reached the OR port"
