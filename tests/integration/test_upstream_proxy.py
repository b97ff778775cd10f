"""TOR_PT_PROXY: the client role reaches its server through an upstream
proxy (socks5 with/without RFC 1929 credentials, socks4a, HTTP CONNECT with
basic auth). Python stub proxies record what they receive; the target checks
that the connection it sees is the proxy's own."""
import base64
import os
import socket
import time

import pytest

import ptkit_harness as h


def start_client(pts, tmp_path, proxy_url):
    env = h.client_env(tmp_path / "state", TOR_PT_PROXY=proxy_url)
    pt = pts(env)
    lines, methods = pt.config()
    cfg = [l for l in lines if not l.startswith("LOG ")]
    assert cfg[:2] == ["VERSION 1", "PROXY DONE"], lines
    return pt, methods["plain"][:2]


def check_through_proxy(proxy, target, n=1):
    """The target's connections are exactly the proxy's outbound ones."""
    outs = [r["outbound"] for r in proxy.requests if r["status"] == "ok"]
    assert len(outs) == n, proxy.requests
    assert sorted(tuple(o) for o in outs) == sorted(tuple(p) for p in target.peers)


def test_socks5_with_credentials(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5", user="alice", password="s3cret"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr, args=[("k", "v")])
    assert rep == 0
    payload = os.urandom(300000)
    assert h.sha256(h.pump_through(s, payload)) == h.sha256(payload)
    s.close()
    req = proxy.requests[0]
    assert 2 in req["methods"]
    assert (req["user"], req["password"]) == ("alice", "s3cret")
    assert req["cmd"] == 1
    assert (req["host"], req["port"]) == echo.addr
    assert req["atyp"] == 1
    check_through_proxy(proxy, echo)


def test_socks5_credentials_not_url_escaped(pts, tmp_path, servers):
    # tor writes user:pass raw: the first ':' splits, the last '@' ends them
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5", user="us", password="er:p@ss"))
    assert proxy.url().startswith("socks5://us:er:p@ss@127.0.0.1:")
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    assert (proxy.requests[0]["user"], proxy.requests[0]["password"]) == ("us", "er:p@ss")


def test_socks5_without_credentials(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    req = proxy.requests[0]
    assert 0 in req["methods"]
    assert req["user"] is None
    assert (req["host"], req["port"]) == echo.addr
    check_through_proxy(proxy, echo)


def test_socks5_ipv6_target_through_proxy(pts, tmp_path, servers):
    echo6 = servers(h.Server(h.echo_handler, "::1"))
    proxy = servers(h.ProxyStub("socks5"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, "::1", echo6.addr[1])
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    req = proxy.requests[0]
    assert req["atyp"] == 4
    assert (req["host"], req["port"]) == ("::1", echo6.addr[1])


def test_socks4a(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks4a"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    payload = os.urandom(200000)
    assert h.sha256(h.pump_through(s, payload)) == h.sha256(payload)
    s.close()
    req = proxy.requests[0]
    assert req["version"] == 4 and req["cmd"] == 1
    assert (req["host"], req["port"]) == echo.addr
    check_through_proxy(proxy, echo)


def test_socks4a_domain_target(pts, tmp_path, servers):
    # the proxy gets the name unresolved (4a form)
    dual = servers(h.DualStackServer(h.echo_handler))
    proxy = servers(h.ProxyStub("socks4a"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, "localhost", dual.port)
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    req = proxy.requests[0]
    assert req["atyp"] == 3 and req["host"] == "localhost" and req["port"] == dual.port


def test_http_connect_basic_auth(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("http", user="bob", password="pa:ss"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    payload = os.urandom(200000)
    assert h.sha256(h.pump_through(s, payload)) == h.sha256(payload)
    s.close()
    req = proxy.requests[0]
    target = "%s:%d" % echo.addr
    assert req["request_line"].startswith("CONNECT %s HTTP/1." % target), req["request_line"]
    assert req["headers"].get("proxy-authorization") == \
        "Basic " + base64.b64encode(b"bob:pa:ss").decode()
    check_through_proxy(proxy, echo)


def test_http_connect_without_auth(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("http"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    req = proxy.requests[0]
    assert "proxy-authorization" not in req["headers"]
    assert req["request_line"].split(" ")[:2] == ["CONNECT", "%s:%d" % echo.addr]


def test_http_connect_ipv6_target(pts, tmp_path, servers):
    echo6 = servers(h.Server(h.echo_handler, "::1"))
    proxy = servers(h.ProxyStub("http"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, "::1", echo6.addr[1])
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()
    assert proxy.requests[0]["request_line"].split(" ")[1] == "[::1]:%d" % echo6.addr[1]


def test_pipelined_data_through_proxy(pts, tmp_path, servers):
    rec = h.Recorder()
    target = servers(h.Server(rec))
    proxy = servers(h.ProxyStub("socks5", user="u", password="p"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s = socket.create_connection(socks, timeout=5)
    data = os.urandom(5000)
    s.sendall(b"\x05\x01\x00")
    assert h.recv_exact(s, 2) == b"\x05\x00"
    s.sendall(h.socks5_request(*target.addr) + data)
    assert h.recv_exact(s, 10) == h.socks5_reply_bytes(0)
    assert h.recv_exact(s, len(data)) == data
    s.close()
    assert bytes(rec.received[0][:len(data)]) == data


# ---- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0x02, 0x05])
def test_socks5_proxy_refuses(pts, tmp_path, servers, code):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5", refuse=True, refuse_code=code))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s = socket.create_connection(socks, timeout=5)
    s.sendall(b"\x05\x01\x00")
    assert h.recv_exact(s, 2) == b"\x05\x00"
    s.sendall(h.socks5_request(*echo.addr))
    assert h.wait_closed(s) == h.socks5_reply_bytes(code)
    s.close()
    assert proxy.requests[0]["status"] == "refused"
    assert echo.conns == 0


def test_socks5_proxy_rejects_credentials(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5", user="alice", password="right"))
    _, socks = start_client(pts, tmp_path, proxy.url(password="wrong"))
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0x01
    s.close()
    assert proxy.requests[0]["status"] == "bad-creds"
    assert echo.conns == 0


def test_socks4a_proxy_refuses(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks4a", refuse=True))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0x01
    s.close()
    assert echo.conns == 0


@pytest.mark.parametrize("why", ["refuse", "bad-auth"])
def test_http_proxy_refuses(pts, tmp_path, servers, why):
    echo = servers(h.Server(h.echo_handler))
    if why == "refuse":
        proxy = servers(h.ProxyStub("http", refuse=True))
        url = proxy.url()
    else:
        proxy = servers(h.ProxyStub("http", user="bob", password="right"))
        url = proxy.url(password="wrong")
    _, socks = start_client(pts, tmp_path, url)
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0x01
    s.close()
    assert echo.conns == 0


def test_proxy_not_listening(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path, "socks5://127.0.0.1:%d" % h.free_port())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0x05
    s.close()
    assert echo.conns == 0
    # and the PT keeps serving
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0x05
    s.close()
    assert pt.alive()


def test_proxy_target_unreachable(pts, tmp_path, servers):
    proxy = servers(h.ProxyStub("socks5"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, "127.0.0.1", h.free_port())
    assert rep == 0x05
    s.close()
    assert proxy.requests[0]["status"] == "target-unreachable"


def test_proxy_closes_during_handshake(pts, tmp_path, servers):
    def slam(c):
        c.recv(10)
    slammer = servers(h.Server(slam))
    _, socks = start_client(pts, tmp_path, "socks5://%s:%d" % slammer.addr)
    s, rep = h.socks5_connect(socks, "127.0.0.1", 9)
    assert rep == 0x01
    s.close()


# ---- edges -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["socks5", "socks4a", "http"])
def test_bytes_in_same_segment_as_proxy_reply(pts, tmp_path, servers, kind):
    # The proxy's success reply and the first stream bytes arrive in one write:
    # those bytes belong to the stream and must reach the SOCKS client.
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub(kind, reply_extra=b"BANNER!"))
    _, socks = start_client(pts, tmp_path, proxy.url())
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    assert h.recv_exact(s, 7) == b"BANNER!"
    assert h.echo_roundtrip(s)
    s.close()


def _abandon_dials(pts, tmp_path, servers, n=30):
    echo = servers(h.Server(h.echo_handler))
    silent = servers(h.ProxyStub("socks5", silent=True))
    pt, socks = start_client(pts, tmp_path, silent.url())
    time.sleep(0.1)
    base = h.fd_count(pt.pid)
    for i in range(n):
        s = socket.create_connection(socks, timeout=5)
        s.sendall(b"\x05\x01\x00" + h.socks5_request(*echo.addr))
        assert h.recv_exact(s, 2) == b"\x05\x00"
        s.close()
    # The PT may cancel a dial before the proxy sees the request (the client
    # is gone), so only check that nothing the proxy saw was answered.
    time.sleep(0.3)
    assert all(r["status"] in (None, "silent") for r in silent.requests)
    return pt, socks, base, echo


def test_client_leaves_while_proxy_is_silent(pts, tmp_path, servers):
    # SOCKS clients that give up while the upstream proxy has not answered:
    # no crash, and the PT keeps serving others.
    pt, socks, base, echo = _abandon_dials(pts, tmp_path, servers)
    assert pt.alive()
    s = socket.create_connection(socks, timeout=5)
    s.sendall(b"\x05\x01\x00")
    assert h.recv_exact(s, 2) == b"\x05\x00"
    s.close()


def test_abandoned_dial_released_promptly(pts, tmp_path, servers):
    pt, socks, base, echo = _abandon_dials(pts, tmp_path, servers)
    h.wait_for(lambda: h.fd_count(pt.pid) <= base, 1.5, "fds back to the baseline")
