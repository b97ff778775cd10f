"""scramblesuit: ptkit's server with Debian's obfs4proxy 0.0.14 as client (it
has no scramblesuit server) and ptkit <-> ptkit, inside a private network
namespace (obfs4proxy may dial out; every test refuses to run outside one).

Path: tor-like SOCKS5 client (args password=...) -> client PT -> server PT ->
TOR_PT_ORPORT echo service -> back, every byte checked by SHA-256.

- bulk (8 MiB each way on one connection) and 40 concurrent connections,
  for obfs4proxy -> ptkit and ptkit -> ptkit;
- session tickets: a first run leaves a ticket in the client's
  scramblesuit_tickets.json; after the client PT restarts, its first flight
  (recorded by a relay in between) is that ticket, with the mark and MAC of
  the ticket handshake verified here in Python from the stored master key,
  and the store then holds a new ticket;
- a wrong password (obfs4proxy), garbage, silence and a replayed first
  flight: the server sends 0 bytes and closes at accept + 30 s + the
  bridge's close delay (3 s for the PRNG seed written below), not before;
- bad password arguments: both clients refuse them with the same words
  (obfs4proxy's, with Go's base32 error offsets);
- SMETHOD ARGS:password=... (generated and kept, or the server option).
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import threading
import time

import pytest

import ptkit_harness as h

OBFS4PROXY = os.environ.get("OBFS4PROXY", "/usr/bin/obfs4proxy")
MIB = 1024 * 1024
PAIRS = [("obfs4proxy", "ptkit"), ("ptkit", "ptkit")]
PASSWORD = "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU"  # k_B = 01 02 .. 14
TICKET_FILE = "scramblesuit_tickets.json"
STATE_FILE = "scramblesuit_server.json"
# A PRNG seed whose first 24 bytes, as obfs4's drbg-seed, give a close delay of
# 3 s: rand.New(HashDrbg(seed[:24])).Intn(60), computed with an independent
# Python HashDrbg / Go Intn (sha256(b"ptkit scramblesuit probe test 34")).
PROBE_SEED = "f071af08e6d46f59301b833ad763f8e92a1ef837f92e5f77f0bbd57a35726515"
DELAY = 3
HS_TIMEOUT = 30
EARLY_SLACK = 1.0
LATE_SLACK = 3.0

pytestmark = pytest.mark.skipif(not os.path.exists(OBFS4PROXY),
                                reason="obfs4proxy is not installed")


def pair_id(p):
    return "%s-to-%s" % p


# ---- processes -------------------------------------------------------------------------

class Side:
    """A managed PT (client or server role) for scramblesuit."""

    def __init__(self, pts, kind, state_dir, server_orport=None, options=None):
        self.kind, self.state_dir = kind, state_dir
        os.makedirs(str(state_dir), exist_ok=True)
        if server_orport is None:
            env = h.client_env(state_dir, transports="scramblesuit")
            done = "CMETHODS DONE"
        else:
            extra = {}
            if options:
                extra["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = options
            env = h.server_env(state_dir, transports="scramblesuit",
                               bindaddr="scramblesuit-127.0.0.1:0",
                               orport="%s:%d" % tuple(server_orport), **extra)
            done = "SMETHODS DONE"
        if kind == "obfs4proxy":
            self.pt = pts(env, ["-enableLogging", "-logLevel", "DEBUG"], OBFS4PROXY)
        else:
            self.pt = pts(env, ["--log-level", "info"])
        self.lines, self.methods = self.pt.config(done=done, timeout=15)
        self.addr, self.args = None, {}
        if "scramblesuit" in self.methods:
            host, port, rest = self.methods["scramblesuit"]
            self.addr = (host, port)
            for r in rest:
                if r.startswith("ARGS:"):
                    for kv in r[5:].split(","):
                        k, _, v = kv.partition("=")
                        self.args[k] = v

    def log(self):
        if self.kind == "obfs4proxy":
            try:
                with open(os.path.join(str(self.state_dir), "obfs4proxy.log"),
                          errors="replace") as f:
                    return f.read()
            except OSError:
                return ""
        return self.pt.stderr

    def stop(self):
        self.pt.stop()


def context(*sides):
    return "".join("\n%s (%s) log tail: %s" % (s.kind, s.state_dir, s.log()[-1500:])
                   for s in sides)


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


def connect(cli, target, password, timeout=30):
    return h.socks5_connect(cli.addr, target[0], target[1], args=[("password", password)],
                            timeout=timeout)


# ---- the ticket handshake, checked in Python ---------------------------------------------

def hkdf_expand(prk, length):
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def hmac128(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()[:16]


def read_tickets(state_dir):
    """{name: (master key, ticket, issuedAt)} from obfs4proxy's ticket store format."""
    path = os.path.join(str(state_dir), TICKET_FILE)
    with open(path) as f:
        doc = json.load(f)
    assert os.stat(path).st_mode & 0o777 == 0o600, oct(os.stat(path).st_mode)
    out = {}
    for name, e in doc.items():
        raw = base64.b32decode(e["key-ticket"])
        assert len(raw) == 144, (name, len(raw))
        out[name] = (raw[:32], raw[32:], e["issuedAt"])
    return out


def check_ticket_flight(flight, master, ticket):
    """flight must be T | P (0..1388) | M | MAC with M, MAC keyed by the ticket's
    client->server HMAC key, E within an hour of now. Returns the handshake length."""
    assert flight[:112] == ticket, "the first flight does not start with the stored ticket"
    k_sh = hkdf_expand(master, 144)[80:112]
    mark = hmac128(k_sh, ticket)
    pos = flight.find(mark, 112, 1516)
    assert pos >= 112, "no ticket mark M = HMAC(k_sh, T) in the first 1516 bytes"
    assert pos + 32 <= len(flight)
    hour = int(time.time()) // 3600
    macs = [hmac128(k_sh, flight[:pos + 16] + str(e).encode()) for e in (hour, hour - 1)]
    assert flight[pos + 16:pos + 32] in macs, "bad ticket handshake MAC"
    return pos + 32


# ---- bulk and concurrency --------------------------------------------------------------------

def setup_pair(pts, servers, tmp_path, client_kind):
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, "ptkit", tmp_path / "server", server_orport=echo.addr)
    assert srv.addr, srv.lines
    pw = srv.args.get("password")
    assert pw and len(pw) == 32, srv.lines  # generated, announced
    cli = Side(pts, client_kind, tmp_path / "client")
    assert cli.addr, (client_kind, cli.lines)
    return echo, srv, cli, pw


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_bulk_8mib_each_way(pts, servers, tmp_path, pair):
    h.require_private_netns()
    client_kind, _ = pair
    echo, srv, cli, pw = setup_pair(pts, servers, tmp_path, client_kind)
    s, rep = connect(cli, srv.addr, pw)
    assert rep == 0, "%s client: SOCKS reply %r%s" % (client_kind, rep, context(cli, srv))
    size = 8 * MIB
    payload = os.urandom(size)
    ok, msg, secs = echo_check(s, payload, 180.0)
    s.close()
    print("\n[scramblesuit %s->ptkit] 8 MiB each way in %.2fs: %.1f MiB/s each way" % (
        client_kind, secs, size / MIB / secs))
    assert ok, "%s -> ptkit: %s%s" % (client_kind, msg, context(cli, srv))
    assert echo.conns == 1, echo.conns
    assert cli.pt.alive() and srv.pt.alive()


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_40_concurrent(pts, servers, tmp_path, pair):
    h.require_private_netns()
    client_kind, _ = pair
    echo, srv, cli, pw = setup_pair(pts, servers, tmp_path, client_kind)
    n = 40
    results = [None] * n
    start = threading.Barrier(n + 1, timeout=30)

    def one(i):
        payload = i.to_bytes(4, "big") * 16 + os.urandom(256 * 1024 + 997 * i)
        try:
            start.wait()
            s, rep = connect(cli, srv.addr, pw, timeout=60)
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
    print("\n[scramblesuit %s->ptkit] %d concurrent connections x ~0.27 MiB in %.2fs" % (
        client_kind, n, secs))
    assert not bad, "%s -> ptkit: %d of %d failed; first: %r%s" % (
        client_kind, len(bad), n, bad[:5], context(cli, srv))
    assert echo.conns == n, echo.conns


# ---- tickets across a client restart ---------------------------------------------------------

@pytest.mark.parametrize("client_kind", ["obfs4proxy", "ptkit"])
def test_ticket_after_client_restart(pts, servers, tmp_path, client_kind):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, "ptkit", tmp_path / "server", server_orport=echo.addr,
               options="scramblesuit:password=" + PASSWORD)
    assert srv.args.get("password") == PASSWORD, srv.lines
    tap = servers(h.Tap(srv.addr))
    cdir = tmp_path / "client"

    # run 1: UniformDH (no ticket yet); the server's ticket is stored
    cli = Side(pts, client_kind, cdir)
    s, rep = connect(cli, tap.addr, PASSWORD)
    assert rep == 0, "SOCKS reply %r%s" % (rep, context(cli, srv))
    ok, msg, _ = echo_check(s, os.urandom(300000), 60)
    s.close()
    assert ok, msg + context(cli, srv)
    first = tap.records[0].first_flight()
    assert 192 + 32 <= len(first) <= 1532, len(first)  # X | P_C | M_C | MAC only
    tickets = h.wait_for(lambda: os.path.exists(os.path.join(str(cdir), TICKET_FILE))
                         and read_tickets(cdir), 10, "a stored ticket")
    assert len(tickets) == 1, tickets
    name, (master, ticket, issued) = next(iter(tickets.items()))
    assert abs(issued - time.time()) < 60, issued
    if client_kind == "obfs4proxy":
        assert name == "%s:%d" % tap.addr, name  # obfs4proxy: the bridge's address
    else:
        assert name.startswith("password-sha256:"), name
    assert first[:112] != ticket
    cli.stop()

    # run 2, a new client process: its first flight redeems that ticket
    cli = Side(pts, client_kind, cdir)
    s, rep = connect(cli, tap.addr, PASSWORD)
    assert rep == 0, "SOCKS reply %r%s" % (rep, context(cli, srv))
    payload = os.urandom(500000)
    ok, msg, _ = echo_check(s, payload, 60)
    s.close()
    assert ok, msg + context(cli, srv)
    assert len(tap.records) == 2
    hs_len = check_ticket_flight(tap.records[1].first_flight(), master, ticket)
    assert hs_len <= 1532
    # used once: the store now holds the ticket of the second connection
    after = h.wait_for(lambda: (lambda t: t if t and next(iter(t.values()))[1] != ticket
                                else None)(read_tickets(cdir)), 10, "a new ticket")
    assert list(after) == [name], after
    cli.stop()
    assert echo.conns == 2


# ---- probes: silence, then a close at accept + 30 s + 3 s ------------------------------------

def probe_state(state_dir):
    os.makedirs(str(state_dir), exist_ok=True)
    st = {"password": PASSWORD, "prng-seed": PROBE_SEED,
          "ticket-aes-key": os.urandom(16).hex(), "ticket-hmac-key": os.urandom(32).hex(),
          "key-creation": int(time.time())}
    with open(os.path.join(str(state_dir), STATE_FILE), "w") as f:
        json.dump(st, f)


def raw_probe(addr, data, wait, results, key):
    """Connect, send data, read until the server closes or `wait` s pass."""
    res = {"t_accept": None, "t_close": None, "got": 0}
    results[key] = res
    s = socket.create_connection(addr, timeout=10)
    res["t_accept"] = time.monotonic()
    if data:
        s.sendall(data)
    deadline = res["t_accept"] + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionError:
            res["t_close"] = time.monotonic()
            break
        if not d:
            res["t_close"] = time.monotonic()
            break
        res["got"] += len(d)
    s.close()


def socks5_slow(proxy, target, password, timeout):
    """SOCKS5 CONNECT with args, waiting up to `timeout` s for the reply (the
    client PT answers only when its handshake ends); returns the reply code."""
    s = socket.create_connection(proxy, timeout=timeout)
    try:
        s.sendall(b"\x05\x01\x02")
        assert h.recv_exact(s, 2, timeout) == b"\x05\x02"
        user = h.encode_args([("password", password)]).encode()
        s.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01\x00")
        assert h.recv_exact(s, 2, timeout)[1] == 0
        s.sendall(h.socks5_request(target[0], target[1]))
        return h.recv_exact(s, 4, timeout)[1]
    finally:
        s.close()


def test_probes_get_silence_then_a_delayed_close(pts, servers, tmp_path):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    probe_state(tmp_path / "server")
    srv = Side(pts, "ptkit", tmp_path / "server", server_orport=echo.addr)
    assert srv.args.get("password") == PASSWORD, srv.lines  # from the state file
    tap = servers(h.Tap(srv.addr))

    # a legitimate session to record a first flight to replay
    good = Side(pts, "obfs4proxy", tmp_path / "good")
    s, rep = connect(good, tap.addr, PASSWORD)
    assert rep == 0, context(good, srv)
    ok, msg, _ = echo_check(s, os.urandom(100000), 30)
    s.close()
    assert ok, msg
    recorded = tap.records[0].first_flight()

    # obfs4proxy with a wrong password, through the tap (its SOCKS request never succeeds)
    wrong = Side(pts, "obfs4proxy", tmp_path / "wrong")
    wrong_box = {}

    def wrong_client():
        try:
            wrong_box["rep"] = socks5_slow(wrong.addr, tap.addr,
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 90)
        except Exception as e:  # noqa: BLE001 - recorded
            wrong_box["rep"] = repr(e)

    results = {}
    wait = HS_TIMEOUT + DELAY + LATE_SLACK + 5
    probes = {
        "silence": b"",
        "garbage-100": os.urandom(100),
        "garbage-1532": os.urandom(1532),
        "garbage-5000": os.urandom(5000),
        "replay": recorded,
        "replay-plus-byte": recorded + b"\x00",
    }
    threads = [threading.Thread(target=raw_probe, args=(srv.addr, d, wait, results, k),
                                daemon=True) for k, d in probes.items()]
    threads.append(threading.Thread(target=wrong_client, daemon=True))
    for t in threads:
        t.start()
    # meanwhile a legitimate client still works
    s, rep = connect(good, srv.addr, PASSWORD)
    assert rep == 0
    ok, msg, _ = echo_check(s, os.urandom(200000), 30)
    s.close()
    assert ok, msg
    for t in threads:
        t.join(wait + 30)

    expect = HS_TIMEOUT + DELAY
    for k, r in results.items():
        assert r["got"] == 0, "%s: the server sent %d bytes" % (k, r["got"])
        assert r["t_close"] is not None, "%s: still open after %ds" % (k, wait)
        after = r["t_close"] - r["t_accept"]
        assert expect - EARLY_SLACK <= after <= expect + LATE_SLACK, (
            "%s: closed %.1fs after accept, want %ds" % (k, after, expect))
    rec = tap.records[1]  # the wrong-password client's connection
    h.wait_for(lambda: rec.t_server_closed, LATE_SLACK + 5, "the server to close on the "
               "wrong-password client")
    assert rec.s2c_len == 0, "the server answered a wrong password"
    assert 192 + 32 <= len(rec.c2s) <= 1532, len(rec.c2s)
    after = rec.t_server_closed - rec.t_connected
    assert expect - EARLY_SLACK <= after <= expect + LATE_SLACK, after
    assert wrong_box.get("rep") != 0, wrong_box
    assert echo.conns == 2, echo.conns  # only the legitimate sessions reached the OR port


# ---- arguments and SMETHOD -------------------------------------------------------------------

BAD_PASSWORDS = [
    (None, "missing argument 'password'"),
    ("aebagbafaydqqcikbmga2dqpcaireeyu",
     "failed to decode password: illegal base32 data at input byte 0"),
    ("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY",
     "failed to decode password: illegal base32 data at input byte 24"),
    ("AEBAGBAFAYDQQCIKBMGA2DQPCAIREE==",
     "failed to decode password: illegal base32 data at input byte 30"),
    ("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY1",
     "failed to decode password: illegal base32 data at input byte 31"),
    ("MY==x===AAAAAAAAAAAAAAAAAAAAAAAA",
     "failed to decode password: illegal base32 data at input byte 2"),
    ("MY==x===", "failed to decode password: illegal base32 data at input byte 3"),  # sic
    ("AEBAGBAF\nAYDQQCIKBMGA2DQPCAIREEY1",  # newlines do not count
     "failed to decode password: illegal base32 data at input byte 31"),
    ("MY======A", "password length 1 is invalid"),  # nothing after padding is looked at
    ("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY=", "password length 19 is invalid"),
    ("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYUAEBAGBAF", "password length 25 is invalid"),
]


@pytest.mark.parametrize("kind", ["obfs4proxy", "ptkit"])
def test_bad_password_args(pts, servers, tmp_path, kind):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    srv = Side(pts, "ptkit", tmp_path / "server", server_orport=echo.addr,
               options="scramblesuit:password=" + PASSWORD)
    cli = Side(pts, kind, tmp_path / "client")
    for pw, words in BAD_PASSWORDS:
        args = [("password", pw)] if pw is not None else [("other", "x")]
        s, rep = h.socks5_connect(cli.addr, srv.addr[0], srv.addr[1], args=args, timeout=15)
        s.close()
        assert rep == 1, "%s, password %r: SOCKS reply %r, want 1" % (kind, pw, rep)
        h.wait_for(lambda: words in cli.log(), 5,
                   "%s to log %r; log tail: %s" % (kind, words, cli.log()[-1500:]))
    assert echo.conns == 0


def test_smethod_password(pts, servers, tmp_path):
    h.require_private_netns()
    echo = servers(h.Server(h.echo_handler))
    sdir = tmp_path / "server"
    a = Side(pts, "ptkit", sdir, server_orport=echo.addr)
    pw = a.args.get("password")
    assert pw and len(pw) == 32 and base64.b32decode(pw), a.lines
    a.stop()
    with open(os.path.join(str(sdir), "scramblesuit_bridgeline.txt")) as f:
        line = "Bridge scramblesuit <IP ADDRESS>:<PORT> <FINGERPRINT> password=%s\n" % pw
        assert line in f.read()
    b = Side(pts, "ptkit", sdir, server_orport=echo.addr)
    assert b.args.get("password") == pw, b.lines  # kept in the state directory
    b.stop()
    # obfsproxy's sanitising of the option: case, 1 -> I, 0 -> O
    c = Side(pts, "ptkit", sdir, server_orport=echo.addr,
             options="scramblesuit:password=aebagbafaydqqc1kbmga2dqpcaireeyu")
    assert c.args.get("password") == PASSWORD, c.lines
    c.stop()
    # a bad option: no listener, and tor is told why
    env = h.server_env(sdir, transports="scramblesuit", bindaddr="scramblesuit-127.0.0.1:0",
                       orport="%s:%d" % tuple(echo.addr),
                       TOR_PT_SERVER_TRANSPORT_OPTIONS="scramblesuit:password=TOOSHORT")
    pt = pts(env, ["--log-level", "info"])
    lines = []
    while True:
        line = pt.readline(10)
        if line is None:
            break
        lines.append(line)
        if line.endswith("SMETHODS DONE") or line.startswith("ENV-ERROR"):
            break
    errors = [l for l in lines if l.startswith(("ENV-ERROR", "SMETHOD-ERROR scramblesuit"))]
    assert errors and "'password'" in errors[0], lines
    assert not [l for l in lines if l.startswith("SMETHOD scramblesuit")], lines
