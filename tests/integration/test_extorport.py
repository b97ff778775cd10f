"""The server role handing connections to tor: the Extended ORPort (SAFE_COOKIE,
USERADDR, TRANSPORT, wait for OKAY) against a tor-like stub, failure cases,
the plain ORPort mode, and address scrubbing in log lines."""
import os
import socket

import pytest

import ptkit_harness as h


def start_server(pts, tmp_path, servers, stub=None, argv=None, bindaddr="plain-127.0.0.1:0",
                 cookie=True, **kw):
    cookie_path = tmp_path / "cookie"
    if cookie is True:
        key = h.make_cookie(cookie_path)
    else:
        key = os.urandom(32)
    if stub is None:
        stub = servers(h.ExtORPortStub(key, **kw))
    env = h.server_env(tmp_path / "state", bindaddr=bindaddr, extorport="%s:%d" % stub.addr,
                       cookie_file=cookie_path)
    pt = pts(env, argv)
    lines, methods = pt.config()
    assert lines[0] == "VERSION 1"
    return pt, stub, methods["plain"][:2], cookie_path


def warnings(pt, timeout=10.0, want=None):
    """Read stdout lines until a warning LOG line (containing `want`) arrives."""
    line = pt.wait_line(lambda l: l.startswith("LOG SEVERITY=warning")
                        and (want is None or want in h.parse_log_line(l)[1]), timeout)
    return h.parse_log_line(line)[1]


def test_useraddr_transport_no_early_bytes(pts, tmp_path, servers):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers)
    c = socket.create_connection(addr, timeout=5)
    me = c.getsockname()
    c.sendall(b"first bytes before OKAY")
    assert h.recv_exact(c, 23) == b"first bytes before OKAY"
    assert h.echo_roundtrip(c, 200000)
    c.close()
    sess = stub.sessions[0]
    assert sess["auth"] == "ok"
    assert sess["useraddr"] == "%s:%d" % me
    assert sess["transport"] == "plain"
    assert sess["early"] == b"", "PT sent OR bytes before OKAY"


def test_useraddr_ipv6(pts, tmp_path, servers):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers, bindaddr="plain-[::1]:0")
    c = socket.create_connection(addr, timeout=5)
    me = c.getsockname()
    assert h.echo_roundtrip(c)
    c.close()
    assert stub.sessions[0]["useraddr"] == "[%s]:%d" % me[:2]


def test_deny_closes_that_connection_only(pts, tmp_path, servers):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers)
    a = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(a)
    stub.deny = True
    b = socket.create_connection(addr, timeout=5)
    b.sendall(b"x" * 100)
    assert h.wait_closed(b) == b""
    b.close()
    stub.deny = False
    c = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(c)
    assert h.echo_roundtrip(a)  # the first one is still fine
    a.close()
    c.close()
    assert [s["auth"] for s in stub.sessions] == ["ok", "ok", "ok"]
    assert stub.sessions[1]["early"] == b""


def test_wrong_server_hash(pts, tmp_path, servers):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers, bad_server_hash=True)
    c = socket.create_connection(addr, timeout=5)
    c.sendall(b"hello")
    assert h.wait_closed(c) == b""
    c.close()
    h.wait_for(lambda: stub.sessions and stub.sessions[0]["auth"], 5, "the stub's verdict")
    sess = stub.sessions[0]
    assert sess["auth"] == "client-gave-up"
    assert sess["client_hash_bytes"] == b"", "PT sent a client hash after a wrong server hash"
    assert sess["client_eof"] is True, "PT did not close the Extended ORPort connection"
    msg = warnings(pt, want="hash")
    assert "server hash" in msg
    assert pt.alive()


def test_cookie_file_missing(pts, tmp_path, servers):
    pt, stub, addr, cookie_path = start_server(pts, tmp_path, servers, cookie=False)
    assert not cookie_path.exists()
    c = socket.create_connection(addr, timeout=5)
    c.sendall(b"hello")
    assert h.wait_closed(c) == b""
    c.close()
    msg = warnings(pt)
    assert "cookie" in msg and str(cookie_path) in msg, msg
    assert not [s for s in stub.sessions if s["auth"] == "ok"]
    # still serving; it reads the cookie per connection, so writing it now fixes things
    stub.cookie = h.make_cookie(cookie_path)
    d = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(d)
    d.close()
    assert stub.sessions[-1]["auth"] == "ok"


@pytest.mark.parametrize("content,why", [
    (b"", "64 bytes"),
    (b"! Extended ORPort Auth Cookie !\n" + b"\x00" * 31, "64 bytes"),
    (b"! Extended ORPort Auth Cookie !\n" + b"\x00" * 33, "64 bytes"),
    (b"! Extended ORPort Auth Cookie ?\n" + b"\x00" * 32, "header"),
])
def test_cookie_file_garbage(pts, tmp_path, servers, content, why):
    pt, stub, addr, cookie_path = start_server(pts, tmp_path, servers, cookie=False)
    cookie_path.write_bytes(content)
    c = socket.create_connection(addr, timeout=5)
    c.sendall(b"hello")
    assert h.wait_closed(c) == b""
    c.close()
    msg = warnings(pt)
    assert "cookie" in msg and why in msg, msg
    assert pt.alive()
    # a second connection gets the same treatment: the process keeps serving
    c = socket.create_connection(addr, timeout=5)
    assert h.wait_closed(c) == b""
    c.close()
    assert pt.alive()


def test_stale_cookie(pts, tmp_path, servers):
    # tor restarted and wrote a new cookie: the PT's hash no longer matches -> closed
    pt, stub, addr, cookie_path = start_server(pts, tmp_path, servers)
    stub.cookie = os.urandom(32)
    c = socket.create_connection(addr, timeout=5)
    assert h.wait_closed(c) == b""
    c.close()
    warnings(pt, want="hash")
    h.make_cookie(cookie_path)  # and a fresh one written by "tor" works again
    stub.cookie = open(cookie_path, "rb").read()[32:]
    d = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(d)
    d.close()


def test_extorport_not_listening(pts, tmp_path, servers):
    cookie_path = tmp_path / "cookie"
    h.make_cookie(cookie_path)
    env = h.server_env(tmp_path / "state", extorport="127.0.0.1:%d" % h.free_port(),
                       cookie_file=cookie_path)
    pt = pts(env)
    lines, methods = pt.config()
    c = socket.create_connection(methods["plain"][:2], timeout=5)
    assert h.wait_closed(c) == b""
    c.close()
    warnings(pt, want="Extended ORPort")
    assert pt.alive()


def test_plain_orport_mode(pts, tmp_path, servers):
    rec = h.Recorder()
    orport = servers(h.Server(rec))
    env = h.server_env(tmp_path / "state", orport="%s:%d" % orport.addr)
    assert env["TOR_PT_EXTENDED_SERVER_PORT"] == ""
    pt = pts(env)
    lines, methods = pt.config()
    c = socket.create_connection(methods["plain"][:2], timeout=5)
    c.sendall(b"\x00\x00\x07 versions cell")
    assert h.recv_exact(c, 17) == b"\x00\x00\x07 versions cell"
    payload = os.urandom(100000)
    assert h.pump_through(c, payload) == payload
    c.close()
    # the ORPort saw our bytes from the first one: no Extended ORPort handshake
    assert bytes(rec.received[0][:17]) == b"\x00\x00\x07 versions cell"
    assert orport.peers[0][0] == "127.0.0.1"


# ---- scrubbing --------------------------------------------------------------------------------

def _lines_after_one_connection(pts, tmp_path, servers, argv):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers, argv=argv)
    c = socket.create_connection(addr, timeout=5)
    me = "%s:%d" % c.getsockname()
    assert h.echo_roundtrip(c)
    c.close()
    h.wait_for(lambda: any("closed" in l for l in pt.unread()), 5, "the close log line")
    pt.proc.send_signal(15)
    assert pt.wait(5) == 0
    pt.rest(3)
    return pt, me, list(pt.lines)


def test_addresses_scrubbed_by_default(pts, tmp_path, servers):
    pt, me, lines = _lines_after_one_connection(pts, tmp_path, servers,
                                                ["--log-level", "debug"])
    msgs = h.log_messages(lines)
    assert any("[scrubbed]" in m for m in msgs), msgs
    assert not [l for l in lines if me in l], "client address in a LOG line"
    assert me not in pt.stderr, "client address in the stderr log"


def test_addresses_shown_with_unsafe_logging(pts, tmp_path, servers):
    pt, me, lines = _lines_after_one_connection(pts, tmp_path, servers,
                                                ["--log-level", "debug", "--unsafe-logging"])
    msgs = h.log_messages(lines)
    assert any(me in m for m in msgs), (me, msgs)
    assert not any("[scrubbed]" in m for m in msgs), msgs


def test_client_target_scrubbed(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    target = "%s:%d" % echo.addr
    for argv, shown in ((["--log-level", "debug"], False),
                        (["--log-level", "debug", "--unsafe-logging"], True)):
        pt = pts(h.client_env(tmp_path / ("state%d" % shown)), argv)
        _, methods = pt.config()
        s, rep = h.socks5_connect(methods["plain"][:2], *echo.addr)
        assert rep == 0
        s.close()
        line = pt.wait_line(lambda l: "connected to" in l)
        msg = h.parse_log_line(line)[1]
        if shown:
            assert target in msg, msg
        else:
            assert "[scrubbed]" in msg and target not in msg, msg
        pt.stop()


def test_or_bytes_in_same_segment_as_okay(pts, tmp_path, servers):
    # tor may send its first cell right behind OKAY: it belongs to the client
    pt, stub, addr, _ = start_server(pts, tmp_path, servers,
                                     okay_extra=b"\x00\x00\x07first-cell")
    c = socket.create_connection(addr, timeout=5)
    assert h.recv_exact(c, 13) == b"\x00\x00\x07first-cell"
    assert h.echo_roundtrip(c)
    c.close()


def test_extorport_closes_after_okay(pts, tmp_path, servers):
    pt, stub, addr, _ = start_server(pts, tmp_path, servers, after=lambda c: None)
    c = socket.create_connection(addr, timeout=5)
    c.sendall(b"data")
    assert h.wait_closed(c) == b""
    c.close()
    h.wait_for(lambda: stub.sessions and stub.sessions[0]["auth"] == "ok", 3, "auth")
    d = socket.create_connection(addr, timeout=5)
    assert h.wait_closed(d) == b""
    d.close()
    assert pt.alive()


def test_client_leaves_during_extorport_auth(pts, tmp_path, servers):
    # connections that close before tor answered: no crash, later ones work
    pt, stub, addr, _ = start_server(pts, tmp_path, servers)
    for _ in range(30):
        c = socket.create_connection(addr, timeout=5)
        c.sendall(b"x")
        c.close()
    d = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(d)
    d.close()
    assert pt.alive()
