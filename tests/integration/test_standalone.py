"""`ptkit client` / `ptkit server` without tor: a fixed tunnel, a SOCKS
client, a server in front of an Extended ORPort, and command-line errors."""
import os
import re
import signal
import socket

import pytest

import ptkit_harness as h


def start(pts, argv):
    """Start `ptkit <argv>`; returns (pt, announced line, (host, port))."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    pt = pts(env, argv)
    line = pt.readline(10)
    assert line is not None, f"no announcement; stderr: {pt.stderr}"
    m = re.match(r"^[CS]METHOD plain (?:(?:socks5|tcp) )?(\S+)$", line)
    assert m, line
    return pt, line, h.split_addr(m.group(1))


def start_server(pts, forward):
    pt, line, addr = start(pts, ["server", "--transport", "plain", "--listen", "127.0.0.1:0",
                                 "--forward", "%s:%d" % forward])
    assert line == "SMETHOD plain 127.0.0.1:%d" % addr[1]
    assert addr[1] != 0
    return pt, addr


def test_fixed_tunnel_sha256(pts, servers):
    echo = servers(h.Server(h.echo_handler))
    srv, saddr = start_server(pts, echo.addr)
    cli, line, caddr = start(pts, ["client", "--transport", "plain", "--listen", "127.0.0.1:0",
                                   "--forward", "%s:%d" % saddr])
    assert line == "CMETHOD plain tcp 127.0.0.1:%d" % caddr[1]
    assert caddr[1] != 0
    s = socket.create_connection(caddr, timeout=5)
    payload = os.urandom(4 * 1024 * 1024 + 3)
    got = h.pump_through(s, payload)
    assert h.sha256(got) == h.sha256(payload)
    s.shutdown(socket.SHUT_WR)
    assert h.recv_all(s, 5) == b""
    s.close()
    assert echo.conns == 1


def test_fixed_tunnel_several_connections(pts, servers):
    echo = servers(h.Server(h.echo_handler))
    srv, saddr = start_server(pts, echo.addr)
    cli, _, caddr = start(pts, ["client", "--transport", "plain", "--listen", "127.0.0.1:0",
                                "--forward", "%s:%d" % saddr])
    socks = [socket.create_connection(caddr, timeout=5) for _ in range(5)]
    for i, s in enumerate(socks):
        assert h.echo_roundtrip(s, 10000 + i)
    for s in socks:
        s.close()


def test_fixed_tunnel_server_down(pts, servers):
    cli, _, caddr = start(pts, ["client", "--transport", "plain", "--listen", "127.0.0.1:0",
                                "--forward", "127.0.0.1:%d" % h.free_port()])
    s = socket.create_connection(caddr, timeout=5)
    assert h.wait_closed(s) == b""
    s.close()
    assert cli.alive()


def test_socks_client_sha256(pts, servers):
    echo = servers(h.Server(h.echo_handler))
    srv, saddr = start_server(pts, echo.addr)
    cli, line, caddr = start(pts, ["client", "--transport", "plain", "--listen", "127.0.0.1:0"])
    assert line == "CMETHOD plain socks5 127.0.0.1:%d" % caddr[1]
    s, rep = h.socks5_connect(caddr, *saddr)
    assert rep == 0
    payload = os.urandom(2 * 1024 * 1024 + 5)
    assert h.sha256(h.pump_through(s, payload)) == h.sha256(payload)
    s.close()
    s, rep = h.socks4_connect(caddr, *saddr)
    assert rep == 0x5a
    assert h.echo_roundtrip(s)
    s.close()


def test_ipv6_listen_and_forward(pts, servers):
    echo6 = servers(h.Server(h.echo_handler, "::1"))
    srv, line, saddr = start(pts, ["server", "--transport", "plain", "--listen", "[::1]:0",
                                   "--forward", "[::1]:%d" % echo6.addr[1]])
    assert line == "SMETHOD plain [::1]:%d" % saddr[1]
    c = socket.create_connection(saddr, timeout=5)
    assert h.echo_roundtrip(c)
    c.close()


def test_server_with_extorport(pts, servers, tmp_path):
    cookie_path = tmp_path / "cookie"
    stub = servers(h.ExtORPortStub(h.make_cookie(cookie_path)))
    srv, line, saddr = start(pts, ["server", "--transport", "plain", "--listen", "127.0.0.1:0",
                                   "--extorport", "%s:%d" % stub.addr,
                                   "--auth-cookie", str(cookie_path)])
    c = socket.create_connection(saddr, timeout=5)
    me = "%s:%d" % c.getsockname()
    assert h.echo_roundtrip(c)
    c.close()
    sess = stub.sessions[0]
    assert (sess["auth"], sess["useraddr"], sess["transport"], sess["early"]) == \
        ("ok", me, "plain", b"")


def test_state_dir_created(pts, servers, tmp_path):
    echo = servers(h.Server(h.echo_handler))
    state = tmp_path / "x" / "y"
    start(pts, ["server", "--transport", "plain", "--listen", "127.0.0.1:0",
                "--forward", "%s:%d" % echo.addr, "--state", str(state)])
    assert state.is_dir() and (state.stat().st_mode & 0o777) == 0o700


def test_sigterm_exits_0(pts, servers):
    echo = servers(h.Server(h.echo_handler))
    srv, saddr = start_server(pts, echo.addr)
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait(2) == 0


def test_no_protocol_lines_besides_announcement(pts, servers):
    # standalone mode logs to stderr only: stdout carries the one method line
    echo = servers(h.Server(h.echo_handler))
    srv, saddr = start_server(pts, echo.addr)
    c = socket.create_connection(saddr, timeout=5)
    assert h.echo_roundtrip(c)
    c.close()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait(2) == 0
    assert srv.rest(2) == []
    assert "listening on 127.0.0.1:%d" % saddr[1] in srv.stderr


# ---- command-line errors ------------------------------------------------------------------

BAD = [
    (["client", "--transport", "nope", "--listen", "127.0.0.1:0"], "unknown transport"),
    (["server", "--transport", "nope", "--listen", "127.0.0.1:0", "--forward", "127.0.0.1:1"],
     "unknown transport"),
    (["client", "--listen", "127.0.0.1:0"], "--transport"),
    (["client", "--transport", "plain"], "--listen"),
    (["server", "--transport", "plain", "--forward", "127.0.0.1:1"], "--listen"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1"], "--listen"),
    (["client", "--transport", "plain", "--listen", "localhost:0"], "--listen"),
    (["client", "--transport", "plain", "--listen", "::1:0"], "--listen"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:70000"], "--listen"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:0", "--forward", "nohostport"],
     "--forward"),
    (["server", "--transport", "plain", "--listen", "127.0.0.1:0"], "--forward"),
    (["server", "--transport", "plain", "--listen", "127.0.0.1:0", "--forward", "example.com:80"],
     "--forward"),
    (["server", "--transport", "plain", "--listen", "127.0.0.1:0", "--extorport", "127.0.0.1:1"],
     "--auth-cookie"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:0", "--options", "a;b"],
     "--options"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:0", "--forward"], "--forward"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:0", "--extorport", "1.2.3.4:5"],
     "--extorport"),
    (["client", "--bogus"], "--bogus"),
    (["client", "--transport", "plain", "--listen", "127.0.0.1:0", "--log-level", "loud"],
     "loud"),
    (["frobnicate"], "frobnicate"),
]


@pytest.mark.parametrize("argv,mention", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_cli(argv, mention):
    rc, out, err = h.run_ptkit(argv, timeout=5)
    assert rc == 2, (rc, out, err)
    assert out == "", out
    assert err.strip(), "no message on stderr"
    assert mention in err, err


def test_listen_port_busy(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        rc, out, err = h.run_ptkit(["client", "--transport", "plain", "--listen",
                                    "127.0.0.1:%d" % busy.getsockname()[1]], timeout=5)
    finally:
        busy.close()
    assert rc == 1, (rc, err)
    assert out == ""
    assert "--listen" in err and "in use" in err, err


def test_help_and_version():
    rc, out, err = h.run_ptkit(["help"])
    assert rc == 0 and "usage: ptkit" in out
    rc, out, err = h.run_ptkit(["version"])
    assert rc == 0
    assert re.match(r"^ptkit \S+\ntransports:.* plain", out), out
    rc, out, err = h.run_ptkit(["client", "--help"])
    assert rc == 0 and "usage: ptkit client" in err
