"""End to end through two managed ptkit processes with the plain transport:
tor-like SOCKS client -> ptkit client -> ptkit server -> Extended ORPort stub
(SAFE_COOKIE) -> echo service; data checked by SHA-256."""
import os
import socket
import threading

import ptkit_harness as h


def start_server(pts, tmp_path, servers, stub=None, **env_extra):
    cookie_path = tmp_path / "cookie"
    cookie = h.make_cookie(cookie_path)
    stub = stub or servers(h.ExtORPortStub(cookie))
    if stub.cookie != cookie:
        stub.cookie = cookie
    env = h.base_env(tmp_path / "server-state",
                     TOR_PT_SERVER_TRANSPORTS="plain",
                     TOR_PT_SERVER_BINDADDR="plain-127.0.0.1:0",
                     TOR_PT_ORPORT="127.0.0.1:1",
                     TOR_PT_EXTENDED_SERVER_PORT="%s:%d" % stub.addr,
                     TOR_PT_AUTH_COOKIE_FILE=str(cookie_path),
                     TOR_PT_EXIT_ON_STDIN_CLOSE="1", **env_extra)
    srv = pts(env)
    lines, methods = srv.config()
    assert lines[0] == "VERSION 1"
    return srv, stub, methods["plain"]


def start_client(pts, tmp_path, **env_extra):
    env = h.base_env(tmp_path / "client-state", TOR_PT_CLIENT_TRANSPORTS="plain",
                     TOR_PT_EXIT_ON_STDIN_CLOSE="1", **env_extra)
    cli = pts(env)
    lines, methods = cli.config()
    assert lines[0] == "VERSION 1"
    host, port, rest = methods["plain"]
    assert host == "127.0.0.1" and rest == []
    return cli, (host, port)


def test_plain_end_to_end_sha256(pts, tmp_path, servers):
    srv, stub, (shost, sport, _) = start_server(pts, tmp_path, servers)
    cli, socks = start_client(pts, tmp_path)
    s, rep = h.socks5_connect(socks, shost, sport, args=[("shared-secret", "x;y")])
    assert rep == 0
    payload = os.urandom(8 * 1024 * 1024 + 17)
    echoed = h.pump_through(s, payload)
    assert h.sha256(echoed) == h.sha256(payload)
    s.shutdown(socket.SHUT_WR)
    assert h.recv_all(s) == b""
    s.close()
    sess = stub.sessions[0]
    assert sess["auth"] == "ok"
    assert sess["transport"] == "plain"
    host, port = h.split_addr(sess["useraddr"])
    assert host == "127.0.0.1" and port > 0
    assert sess["early"] == b"", "PT sent OR data before OKAY"


def test_many_concurrent_connections(pts, tmp_path, servers):
    srv, stub, (shost, sport, _) = start_server(pts, tmp_path, servers)
    cli, socks = start_client(pts, tmp_path)
    results = []

    def one(i):
        s, rep = h.socks5_connect(socks, shost, sport)
        assert rep == 0
        data = os.urandom(50000 + i)
        got = h.pump_through(s, data)
        results.append(got == data)
        s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 100 and all(results)
