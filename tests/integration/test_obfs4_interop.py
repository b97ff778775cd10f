"""obfs4 interoperability between ptkit and Debian's obfs4proxy 0.0.14, inside a
private network namespace (obfs4proxy may dial out; the tests refuse to run
outside one).

Path: tor-like SOCKS5 client -> client PT -> server PT -> TOR_PT_ORPORT echo
service -> back; every byte is checked by SHA-256. The server's iat-mode is
set with TOR_PT_SERVER_TRANSPORT_OPTIONS; the client gets cert= and
iat-mode= from the server's SMETHOD ARGS, as tor would hand them over.

Also: server state takeover (obfs4proxy's state dir read by ptkit and the
reverse: same cert, same identity, old bridge lines keep working) and a
corrupt obfs4_state.json (an error line naming the file, file untouched).

PTKIT_SLOW_TESTS=1 sends 64 MiB (instead of 1 MiB) through iat-modes 1 and 2,
which pace their output on purpose (obfs4proxy too: ~0.1-0.3 MiB/s).
"""
import json
import os
import socket
import threading
import time

import pytest

import ptkit_harness as h
import obfs4_helpers as o

pytestmark = pytest.mark.skipif(not o.HAVE_OBFS4PROXY, reason="obfs4proxy is not installed")

PAIRS = [("ptkit", "obfs4proxy"), ("obfs4proxy", "ptkit"), ("ptkit", "ptkit")]


def pair_id(p):
    return "%s-to-%s" % p


def run_pair(pts, servers, tmp_path, client_kind, server_kind, options=()):
    echo = o.echo_server(servers)
    srv = o.Obfs4Server(server_kind, tmp_path / "server-state", echo.addr, options, pts=pts)
    cli = o.Obfs4Client(client_kind, tmp_path / "client-state", pts=pts)
    return echo, srv, cli


@pytest.mark.parametrize("iat", [0, 1, 2])
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_interop_bulk_sha256(pts, servers, tmp_path, pair, iat):
    h.require_private_netns()
    client_kind, server_kind = pair
    echo, srv, cli = run_pair(pts, servers, tmp_path, client_kind, server_kind,
                              o.iat_options(iat))
    assert srv.iat == iat, f"{server_kind} SMETHOD ARGS say iat-mode={srv.iat}, want {iat}"
    assert srv.cert and len(srv.cert) == 70, srv.args
    if iat == 0 or o.SLOW:
        size, timeout = 64 * o.MIB, (240.0 if iat == 0 else 3600.0)
    else:
        size, timeout = 1 * o.MIB, 120.0
    s, rep = cli.connect(srv.addr, srv.cert, iat, timeout=30)
    assert rep == 0, f"{client_kind} client: SOCKS reply {rep}"
    payload = os.urandom(size)
    ok, msg, secs = o.echo_check(s, payload, timeout)
    s.close()
    print(f"\n[obfs4 {client_kind}->{server_kind} iat-mode={iat}] {size / o.MIB:.0f} MiB each way "
          f"in {secs:.2f}s: {size / o.MIB / secs:.2f} MiB/s")
    assert ok, (f"{client_kind} client -> {server_kind} server, iat-mode={iat}: {msg}\n"
                f"client log tail: {cli.log_text()[-1500:]}\n"
                f"server log tail: {srv.log_text()[-1500:]}")
    assert echo.conns == 1, f"the OR port saw {echo.conns} connections, want 1"
    assert cli.pt.alive() and srv.pt.alive()


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_interop_200_concurrent(pts, servers, tmp_path, pair):
    h.require_private_netns()
    client_kind, server_kind = pair
    echo, srv, cli = run_pair(pts, servers, tmp_path, client_kind, server_kind,
                              [("iat-mode", "0")])
    n = 200
    results = [None] * n
    start = threading.Barrier(n + 1, timeout=30)

    def one(i):
        payload = (i.to_bytes(4, "big") * 16) + os.urandom(64 * 1024 - 64 + i)
        try:
            start.wait()
            s, rep = cli.connect(srv.addr, srv.cert, 0, timeout=60)
        except Exception as e:  # recorded, reported below
            results[i] = (False, f"connect: {e!r}")
            return
        if rep != 0:
            results[i] = (False, f"SOCKS reply {rep}")
            s.close()
            return
        ok, msg, _ = o.echo_check(s, payload, 90.0)
        s.close()
        results[i] = (ok, msg)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(max(0.1, 150 - (time.monotonic() - t0)))
    secs = time.monotonic() - t0
    bad = [(i, r) for i, r in enumerate(results) if not (r and r[0])]
    print(f"\n[obfs4 {client_kind}->{server_kind}] {n} concurrent x ~64 KiB echoed in {secs:.2f}s")
    assert not bad, (f"{client_kind} client -> {server_kind} server: {len(bad)} of {n} "
                     f"connections failed; first: {bad[:5]}\n"
                     f"client log tail: {cli.log_text()[-1500:]}\n"
                     f"server log tail: {srv.log_text()[-1500:]}")
    assert echo.conns == n, f"the OR port saw {echo.conns} connections, want {n}"
    assert cli.pt.alive() and srv.pt.alive()


# ---- state takeover ------------------------------------------------------------------------

def read_state(state_dir):
    with open(os.path.join(str(state_dir), "obfs4_state.json")) as f:
        return json.load(f)


IDENTITY = ("node-id", "private-key", "drbg-seed")


def one_session(cli, srv_addr, cert, iat, size=256 * 1024):
    s, rep = cli.connect(srv_addr, cert, iat, timeout=30)
    assert rep == 0, f"{cli.kind} client: SOCKS reply {rep}"
    ok, msg, _ = o.echo_check(s, os.urandom(size), 60.0)
    s.close()
    return ok, msg


def test_ptkit_takes_over_obfs4proxy_state(pts, servers, tmp_path):
    h.require_private_netns()
    sdir = tmp_path / "state"
    echo = o.echo_server(servers)
    first = o.Obfs4Server("obfs4proxy", sdir, echo.addr, pts=pts)
    old_cert, old_iat = first.cert, first.iat
    first.stop()
    assert os.path.exists(sdir / "obfs4_state.json")
    assert os.path.exists(sdir / "obfs4_bridgeline.txt")
    before = read_state(sdir)
    line_cert, line_iat = o.read_bridgeline(sdir)
    assert line_cert == old_cert and line_iat == old_iat == 0

    srv = o.Obfs4Server("ptkit", sdir, echo.addr, pts=pts)
    assert srv.cert == old_cert, f"ptkit's cert {srv.cert} != obfs4proxy's {old_cert}"
    assert srv.iat == old_iat
    after = read_state(sdir)
    for k in IDENTITY + ("public-key",):
        assert after.get(k) == before.get(k), f"{k} changed: {before.get(k)} -> {after.get(k)}"
    assert after.get("iat-mode") == before.get("iat-mode")
    assert o.read_bridgeline(sdir) == (old_cert, old_iat)
    assert (os.stat(sdir / "obfs4_state.json").st_mode & 0o777) == 0o600

    # An obfs4proxy client with the old bridge line reaches the ptkit server.
    cli = o.Obfs4Client("obfs4proxy", tmp_path / "client-state", pts=pts)
    ok, msg = one_session(cli, srv.addr, line_cert, line_iat)
    assert ok, f"obfs4proxy client with the old bridge line -> ptkit server: {msg}\n" \
               f"{srv.log_text()[-1500:]}"


def test_obfs4proxy_takes_over_ptkit_state(pts, servers, tmp_path):
    h.require_private_netns()
    sdir = tmp_path / "state"
    echo = o.echo_server(servers)
    first = o.Obfs4Server("ptkit", sdir, echo.addr, pts=pts)
    old_cert = first.cert
    first.stop()
    before = read_state(sdir)
    assert set(IDENTITY) <= set(before), before
    assert o.read_bridgeline(sdir) == (old_cert, 0)

    srv = o.Obfs4Server("obfs4proxy", sdir, echo.addr, pts=pts)
    assert srv.cert == old_cert, f"obfs4proxy's cert {srv.cert} != ptkit's {old_cert}"
    after = read_state(sdir)
    for k in IDENTITY + ("public-key",):
        assert after.get(k) == before.get(k), f"{k} changed: {before.get(k)} -> {after.get(k)}"

    cli = o.Obfs4Client("ptkit", tmp_path / "client-state", pts=pts)
    ok, msg = one_session(cli, srv.addr, old_cert, 0)
    assert ok, f"ptkit client with ptkit's bridge line -> obfs4proxy server: {msg}"


def test_iat_mode_option_is_saved_like_obfs4proxy(pts, servers, tmp_path):
    """iat-mode alone in ServerTransportOptions overrides the state file and is saved;
    the identity stays. Same for both implementations."""
    h.require_private_netns()
    echo = o.echo_server(servers)
    saved = {}
    for kind in ("obfs4proxy", "ptkit"):
        sdir = tmp_path / kind
        a = o.Obfs4Server(kind, sdir, echo.addr, pts=pts)
        a.stop()
        st0 = read_state(sdir)
        b = o.Obfs4Server(kind, sdir, echo.addr, [("iat-mode", "2")], pts=pts)
        assert b.cert == a.cert and b.iat == 2, (kind, b.args)
        b.stop()
        st1 = read_state(sdir)
        assert [st1[k] for k in IDENTITY] == [st0[k] for k in IDENTITY], kind
        saved[kind] = (st1.get("iat-mode"), o.read_bridgeline(sdir)[1])
        c = o.Obfs4Server(kind, sdir, echo.addr, pts=pts)  # no option: the saved mode
        saved[kind] += (c.iat,)
        c.stop()
    print("\n[iat-mode option, then none: (saved iat-mode, bridge line iat, next SMETHOD iat)] "
          f"{saved}")
    assert saved["ptkit"] == saved["obfs4proxy"], saved


CORRUPT = {
    "not-json": b"{\"node-id\": \"00",
    "bad-hex": json.dumps({"node-id": "zz" * 20, "private-key": "00" * 32,
                           "public-key": "00" * 32, "drbg-seed": "00" * 24,
                           "iat-mode": 0}).encode(),
    "short-key": json.dumps({"node-id": "00" * 20, "private-key": "00" * 31,
                             "drbg-seed": "00" * 24, "iat-mode": 0}).encode(),
    "missing-seed": json.dumps({"node-id": "00" * 20, "private-key": "00" * 32,
                                "iat-mode": 0}).encode(),
    "empty": b"",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_state_file_is_an_error_and_kept(pts, tmp_path, kind):
    h.require_private_netns()
    sdir = tmp_path / "state"
    sdir.mkdir(mode=0o700)
    path = sdir / "obfs4_state.json"
    path.write_bytes(CORRUPT[kind])
    os.chmod(path, 0o600)
    st = os.stat(path)
    env = h.base_env(sdir, TOR_PT_SERVER_TRANSPORTS="obfs4",
                     TOR_PT_SERVER_BINDADDR="obfs4-127.0.0.1:0",
                     TOR_PT_ORPORT="127.0.0.1:%d" % h.free_port(),
                     TOR_PT_EXIT_ON_STDIN_CLOSE="1")
    env["TOR_PT_EXTENDED_SERVER_PORT"] = ""
    pt = pts(env)
    got = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = pt.readline(max(0.01, deadline - time.monotonic()))
        if line is None:
            break
        got.append(line)
        if line.startswith(("ENV-ERROR", "SMETHOD-ERROR", "SMETHODS DONE")):
            break
    errs = [l for l in got if l.startswith(("ENV-ERROR", "SMETHOD-ERROR"))]
    assert errs, f"no ENV-ERROR/SMETHOD-ERROR for a corrupt state file ({kind}); got {got}"
    assert "obfs4_state.json" in errs[0], f"error line does not name the file: {errs[0]!r}"
    assert not any(l.startswith("SMETHOD obfs4 ") for l in got), got
    pt.stop()
    assert path.read_bytes() == CORRUPT[kind], "ptkit overwrote the corrupt state file"
    st2 = os.stat(path)
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), "state file replaced"
    assert not os.path.exists(sdir / "obfs4_bridgeline.txt"), "bridge line written from nothing"


# ---- the wire cut into small pieces ------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_interop_fragmented_wire(pts, servers, tmp_path, pair):
    """Handshakes and frames arrive in 1..40-byte pieces (first 16 KiB each way),
    then 1..3000-byte pieces: both ends must reassemble."""
    h.require_private_netns()
    client_kind, server_kind = pair
    echo, srv, cli = run_pair(pts, servers, tmp_path, client_kind, server_kind,
                              [("iat-mode", "0")])
    frag = servers(o.FragmentingRelay(srv.addr))
    for i in range(3):
        s, rep = cli.connect(frag.addr, srv.cert, 0, timeout=30)
        assert rep == 0, f"connection {i}: SOCKS reply {rep}"
        ok, msg, secs = o.echo_check(s, os.urandom(512 * 1024 + i), 60.0)
        s.close()
        assert ok, (f"{client_kind} -> fragmenting relay -> {server_kind}, connection {i}: "
                    f"{msg}\nserver log: {srv.log_text()[-1500:]}")
    assert min(frag.pieces) > 1000, frag.pieces


# ---- data followed by a close must all arrive (also while iat pacing) -----------------------

@pytest.mark.parametrize("direction", ["download", "upload"])
@pytest.mark.parametrize("iat", [0, 1, 2])
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_data_then_close_is_delivered(pts, servers, tmp_path, pair, iat, direction):
    """download: the OR side writes N bytes and closes at once; the SOCKS client
    must read all N bytes, then EOF. upload: the SOCKS client writes N bytes and
    half-closes; the OR side must read all N bytes, then EOF."""
    h.require_private_netns()
    client_kind, server_kind = pair
    size = 4 * o.MIB if iat == 0 else 128 * 1024
    payload = os.urandom(size)
    sink = {}

    def or_side(c):
        if direction == "download":
            c.sendall(payload)
            return  # Server closes c
        got = bytearray()
        c.settimeout(90)
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        sink["got"] = bytes(got)

    orport = servers(h.Server(or_side))
    srv = o.Obfs4Server(server_kind, tmp_path / "server-state", orport.addr,
                        o.iat_options(iat), pts=pts)
    cli = o.Obfs4Client(client_kind, tmp_path / "client-state", pts=pts)
    s, rep = cli.connect(srv.addr, srv.cert, iat, timeout=30)
    assert rep == 0, f"SOCKS reply {rep}"
    where = f"{client_kind} client -> {server_kind} server, iat-mode={iat}, {direction}"
    if direction == "download":
        try:
            got = h.recv_all(s, timeout=20)
        except OSError as e:
            got = None
            err = repr(e)
        s.close()
        assert got is not None, f"{where}: {err}"
        assert len(got) == size and h.sha256(got) == h.sha256(payload), \
            f"{where}: read {len(got)} of {size} bytes before EOF (sha256 match: " \
            f"{h.sha256(got) == h.sha256(payload)})"
    else:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        try:
            extra = h.wait_closed(s, 20)
        except AssertionError as e:
            extra = str(e).encode()
        s.close()
        h.wait_for(lambda: "got" in sink, 10, f"{where}: the OR side to see EOF")
        got = sink["got"]
        assert len(got) == size and got == payload, \
            f"{where}: the OR side read {len(got)} of {size} bytes before EOF " \
            f"(prefix match: {payload.startswith(got)})\n--- server log:\n" \
            f"{srv.log_text()[-3000:]}\n--- client log:\n{cli.log_text()[-3000:]}\n--- client stderr (exit {cli.pt.proc.poll()}):\n" \
            f"{cli.pt.stderr[-3000:]}"
        assert extra == b"", f"{where}: {extra[:200]!r}"


# ---- client arguments: the same accepted/refused set as obfs4proxy's client ---------------

def client_arg_cases(cert):
    node_id, pub = o.cert_parts(cert)
    return {
        "cert+iat": [("cert", cert), ("iat-mode", "0")],
        "node-id+public-key+iat": [("node-id", node_id.hex()), ("public-key", pub.hex()),
                                   ("iat-mode", "0")],
        "client-iat-1-server-0": [("cert", cert), ("iat-mode", "1")],
        "no-iat": [("cert", cert)],
        "iat-3": [("cert", cert), ("iat-mode", "3")],
        "padded-cert": [("cert", cert + "=="), ("iat-mode", "0")],
        "short-cert": [("cert", cert[:-1]), ("iat-mode", "0")],
        "no-cert": [("iat-mode", "0")],
        "public-key-only": [("public-key", pub.hex()), ("iat-mode", "0")],
    }


EXPECT_ARGS = {"cert+iat": True, "node-id+public-key+iat": True, "client-iat-1-server-0": True,
               "no-iat": False, "iat-3": False, "padded-cert": False, "short-cert": False,
               "no-cert": False, "public-key-only": False}


def test_client_args_accepted_like_obfs4proxy(pts, servers, tmp_path):
    h.require_private_netns()
    echo = o.echo_server(servers)
    srv = o.Obfs4Server("ptkit", tmp_path / "server-state", echo.addr, pts=pts)
    outcome = {}
    for kind in ("ptkit", "obfs4proxy"):
        cli = o.Obfs4Client(kind, tmp_path / ("client-" + kind), pts=pts)
        for name, args in client_arg_cases(srv.cert).items():
            try:
                s, rep = h.socks5_connect(cli.socks, srv.addr[0], srv.addr[1], args=args,
                                          timeout=20)
            except (OSError, EOFError) as e:
                outcome[(kind, name)] = f"error {e!r}"
                continue
            if rep != 0:
                outcome[(kind, name)] = False
                s.close()
                continue
            ok, msg, _ = o.echo_check(s, os.urandom(65536), 20.0)
            s.close()
            outcome[(kind, name)] = True if ok else f"accepted but broken: {msg}"
    bad = {k: v for k, v in outcome.items() if v != EXPECT_ARGS[k[1]]}
    assert not bad, f"unexpected outcomes (want {EXPECT_ARGS}): {bad}"


# ---- the obfs4 connection ends in the middle of a frame ------------------------------------

@pytest.mark.parametrize("kind", ["ptkit", "obfs4proxy"])
@pytest.mark.parametrize("role", ["client", "server"])
def test_wire_eof_mid_frame_closes_local_side(pts, servers, tmp_path, role, kind):
    """The obfs4 connection gets a FIN after a cut that (almost surely) falls
    inside a frame. The PT under test (`kind`, in `role`) must then close its
    local side (SOCKS or OR) within 5 s, as obfs4proxy does; the peer is the
    other implementation. A PT that waits for the rest of the frame hangs."""
    h.require_private_netns()
    peer = "obfs4proxy" if kind == "ptkit" else "ptkit"
    client_kind, server_kind = (kind, peer) if role == "client" else (peer, kind)
    closed = {}
    payload = os.urandom(256 * 1024)

    def or_side(c):
        c.settimeout(30)
        t_end = time.monotonic() + 30
        if role == "client":
            c.sendall(payload)
        try:
            while time.monotonic() < t_end:
                if not c.recv(65536):
                    closed["t"] = time.monotonic()
                    return
        except OSError:
            closed["t"] = time.monotonic()

    orport = servers(h.Server(or_side))
    srv = o.Obfs4Server(server_kind, tmp_path / "server-state", orport.addr, [("iat-mode", "0")],
                        pts=pts)
    cli = o.Obfs4Client(client_kind, tmp_path / "client-state", pts=pts)
    cut = 20000 + int.from_bytes(os.urandom(2), "big") % 1400
    trunc = servers(o.TruncatingRelay(srv.addr, "s2c" if role == "client" else "c2s", cut,
                                      timeout=30))
    s, rep = cli.connect(trunc.addr, srv.cert, 0, timeout=20)
    assert rep == 0, f"SOCKS reply {rep}"
    where = f"{kind} as obfs4 {role} (peer {peer}), FIN after {cut} bytes"
    if role == "client":
        h.wait_for(lambda: trunc.t_cut, 20, f"{where}: the cut")
        try:
            got, still_open = h.wait_closed(s, 5), False
        except AssertionError:
            got, still_open = b"", True
        assert not still_open, f"{where}: the SOCKS connection stayed open 5 s after the wire's FIN"
        assert payload.startswith(got), f"{where}: delivered bytes that were not sent"
    else:
        s.settimeout(20)
        try:
            s.sendall(payload)
        except OSError:
            pass
        h.wait_for(lambda: trunc.t_cut, 20, f"{where}: the cut")
        t_cut = trunc.t_cut
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not closed.get("t"):
            time.sleep(0.05)
        assert closed.get("t"), f"{where}: the OR connection stayed open 5 s after the wire's FIN"
        assert closed["t"] - t_cut < 5
    s.close()


# ---- a failed client handshake must reach tor as a SOCKS failure ---------------------------

def _junk_server(c):
    c.settimeout(5)
    try:
        c.recv(65536)
    except OSError:
        pass
    c.sendall(os.urandom(10000))  # > 8192 bytes and no server mark: the handshake fails
    time.sleep(5)


def _read_then_close(c):
    c.settimeout(5)
    try:
        c.recv(65536)
    except OSError:
        pass


@pytest.mark.parametrize("behaviour", ["junk-reply", "close-after-handshake", "refused"])
@pytest.mark.parametrize("kind", ["ptkit", "obfs4proxy"])
def test_client_handshake_failure_is_a_socks_failure(pts, servers, tmp_path, kind, behaviour):
    """The SOCKS reply is sent only after the obfs4 handshake: a failed
    handshake must come back as a SOCKS5 failure reply (obfs4proxy: 05 01),
    not as a connection closed without any reply."""
    h.require_private_netns()
    if behaviour == "refused":
        target = ("127.0.0.1", h.free_port())
    else:
        target = servers(h.Server(_junk_server if behaviour == "junk-reply"
                                  else _read_then_close)).addr
    cli = o.Obfs4Client(kind, tmp_path / "client-state", pts=pts)
    try:
        s, rep = cli.connect(target, o.random_cert(), 0, timeout=15)
        s.close()
    except EOFError as e:
        rep = f"EOF, no SOCKS reply ({e})"
    assert isinstance(rep, int) and rep != 0, \
        f"{kind} client, server {behaviour}: want a SOCKS5 failure reply, got {rep!r}"


# ---- Extended ORPort: the same metadata as obfs4proxy --------------------------------------

@pytest.mark.parametrize("server_kind", ["ptkit", "obfs4proxy"])
def test_server_extorport_metadata(pts, servers, tmp_path, server_kind):
    h.require_private_netns()
    cookie_path = tmp_path / "cookie"
    cookie = h.make_cookie(cookie_path)
    stub = servers(h.ExtORPortStub(cookie))
    env = h.base_env(tmp_path / "server-state", TOR_PT_SERVER_TRANSPORTS="obfs4",
                     TOR_PT_SERVER_BINDADDR="obfs4-127.0.0.1:0",
                     TOR_PT_ORPORT="127.0.0.1:%d" % h.free_port(),
                     TOR_PT_EXTENDED_SERVER_PORT="%s:%d" % stub.addr,
                     TOR_PT_AUTH_COOKIE_FILE=str(cookie_path), TOR_PT_EXIT_ON_STDIN_CLOSE="1")
    srv_pt = o.start_pt(server_kind, env, pts)
    lines, methods = srv_pt.config(done="SMETHODS DONE")
    host, port, rest = methods["obfs4"]
    cert = o.parse_smethod_args(rest)["cert"]
    cli = o.Obfs4Client("obfs4proxy" if server_kind == "ptkit" else "ptkit",
                        tmp_path / "client-state", pts=pts)
    s, rep = cli.connect((host, port), cert, 0)
    assert rep == 0
    ok, msg, _ = o.echo_check(s, os.urandom(1 << 20), 60.0)
    s.close()
    assert ok, msg
    assert len(stub.sessions) == 1, stub.sessions
    sess = stub.sessions[0]
    assert sess["auth"] == "ok" and sess["transport"] == "obfs4", sess
    uhost, uport = h.split_addr(sess["useraddr"])
    assert uhost == "127.0.0.1" and uport > 0, sess
    assert sess["early"] == b"", "OR data before OKAY"


def test_identity_options_written_like_obfs4proxy(pts, servers, tmp_path):
    """node-id/private-key/drbg-seed/iat-mode as ServerTransportOptions: both write the
    same identity to obfs4_state.json and give the same cert. (obfs4proxy writes
    "public-key":"" in this case; ptkit writes the real key.) Then ptkit, without
    options, takes over the state dir obfs4proxy wrote this way."""
    h.require_private_netns()
    echo = o.echo_server(servers)
    opts = [("node-id", os.urandom(20).hex()), ("private-key", os.urandom(32).hex()),
            ("drbg-seed", os.urandom(24).hex()), ("iat-mode", "1")]
    got, states = {}, {}
    for kind in ("obfs4proxy", "ptkit"):
        srv = o.Obfs4Server(kind, tmp_path / kind, echo.addr, opts, pts=pts)
        st = states[kind] = read_state(tmp_path / kind)
        got[kind] = (srv.cert, srv.iat, [st.get(k) for k in IDENTITY + ("iat-mode",)],
                     o.read_bridgeline(tmp_path / kind))
        srv.stop()
    assert got["ptkit"] == got["obfs4proxy"], got
    assert got["ptkit"][2] == [dict(opts)[k] for k in IDENTITY] + [1]
    assert states["ptkit"]["public-key"] == o.cert_parts(got["ptkit"][0])[1].hex()
    srv = o.Obfs4Server("ptkit", tmp_path / "obfs4proxy", echo.addr, pts=pts)
    assert (srv.cert, srv.iat) == got["obfs4proxy"][:2], (srv.cert, srv.iat)
    assert "does not match" not in srv.pt.stderr, srv.pt.stderr[-1000:]


# ---- a padding table of only 0 -------------------------------------------------------------

# A bridge drbg-seed whose padding-length table is the single value 0 (about one
# seed in 145,000; tests/unit/test_obfs4.c has the same one). obfs4proxy 0.0.14
# in iat-mode=2 panics on drawing a 0 ("BUG: Write(), iat length was 0"); ptkit
# sends a full segment instead. With such a seed ptkit's iat-mode=2 writer used
# to spin forever.
ZERO_LEN_SEED = "67adf4206fc3a653b3ca23c4c964be0a17854b88001cf9be"


@pytest.mark.parametrize("client_kind", ["ptkit", "obfs4proxy"])
def test_iat2_padding_table_of_zero(pts, servers, tmp_path, client_kind):
    """ptkit bridge in iat-mode=2 with the {0} table: data flows both ways to
    ptkit's client (which adopts the table) and toward obfs4proxy's (which
    never writes here: it would panic with this table, as upstream's bug)."""
    h.require_private_netns()
    ident = [("node-id", os.urandom(20).hex()), ("private-key", os.urandom(32).hex()),
             ("drbg-seed", ZERO_LEN_SEED), ("iat-mode", "2")]
    size = 128 * 1024
    payload = os.urandom(size)

    def or_side(c):
        if client_kind == "ptkit":
            got = bytearray()
            while len(got) < size:
                d = c.recv(65536)
                if not d:
                    return
                got += d
            assert bytes(got) == payload
        c.sendall(payload)

    orport = servers(h.Server(or_side))
    srv = o.Obfs4Server("ptkit", tmp_path / "server-state", orport.addr, ident, pts=pts)
    cli = o.Obfs4Client(client_kind, tmp_path / "client-state", pts=pts)
    s, rep = cli.connect(srv.addr, srv.cert, 2, timeout=30)
    assert rep == 0, f"SOCKS reply {rep}"
    if client_kind == "ptkit":
        s.sendall(payload)
    try:
        got = h.recv_all(s, timeout=30)
    except OSError as e:
        got = repr(e).encode()
    s.close()
    assert len(got) == size and got == payload, \
        f"{client_kind} client read {len(got)} of {size} bytes\n--- server log:\n" \
        f"{srv.log_text()[-2000:]}"
