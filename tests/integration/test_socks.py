"""The client role's SOCKS listener, spoken to the way tor speaks to it
(reference/tor-side.md "SOCKS args"), plus the failure replies a SOCKS
client must get for bad requests. The target behind ptkit (plain transport)
is a loopback echo service."""
import os
import socket
import struct
import threading
import time

import pytest

import ptkit_harness as h

OK5 = h.socks5_reply_bytes(0)


@pytest.fixture
def client(pts, tmp_path):
    """A managed ptkit client; returns its SOCKS address."""
    _, _, socks = h.start_managed(pts, h.client_env(tmp_path / "state"))
    return socks


@pytest.fixture
def echo(servers):
    return servers(h.Server(h.echo_handler))


def greet(socks, methods=b"\x00"):
    s = socket.create_connection(socks, timeout=5)
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    return s, h.recv_exact(s, 2)


# ---- SOCKS5 -----------------------------------------------------------------------

def test_socks5_no_args(client, echo):
    s, rep = greet(client)
    assert rep == b"\x05\x00"
    s.sendall(h.socks5_request(*echo.addr))
    assert h.recv_exact(s, 10) == OK5
    assert h.echo_roundtrip(s, 100000)
    s.close()


def test_socks5_args_choose_method_02(client, echo):
    s, rep = greet(client, b"\x00\x02")
    assert rep == b"\x05\x02", "with 00 and 02 offered the PT must pick 02 (else args are lost)"
    args = h.encode_args([("cert", "abc;def\\ghi"), ("iat-mode", "0")]).encode()
    s.sendall(b"\x01" + bytes([len(args)]) + args + b"\x01\x00")
    assert h.recv_exact(s, 2) == b"\x01\x00"
    s.sendall(h.socks5_request(*echo.addr))
    assert h.recv_exact(s, 10) == OK5
    assert h.echo_roundtrip(s)
    s.close()


def test_socks5_only_02_offered(client, echo):
    s, rep = greet(client, b"\x02")
    assert rep == b"\x05\x02"
    s.close()


def test_socks5_lone_nul_password_is_not_an_argument(client, echo):
    # tor's "everything fits in the username" form: PASSWD is one NUL byte.
    # Taken as part of the arguments it would be rejected (NUL in k=v).
    s, rep = h.socks5_connect(client, *echo.addr, args=[("k", "v")])
    assert rep == 0
    assert h.echo_roundtrip(s)
    s.close()


def test_socks5_args_over_255_split_like_tor(client, echo):
    # Arguments longer than 255 bytes: the first 255 in USERNAME, the rest in
    # PASSWORD. Make byte 255 the start of an escape ("\;"), so that parsing the
    # username alone (or the two parts separately) fails: only the concatenation
    # is a valid k=v list.
    prefix = "k="
    filler = "x" * (254 - len(prefix))
    args = (prefix + filler + "\\;" + "y" * 40 + ";second=" + "z" * 100).encode()
    assert len(args) > 255 and args[254:255] == b"\\"
    user, pw = args[:255], args[255:]
    assert pw.startswith(b";")
    s, rep = greet(client, b"\x00\x02")
    assert rep == b"\x05\x02"
    s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
    assert h.recv_exact(s, 2) == b"\x01\x00"
    s.sendall(h.socks5_request(*echo.addr))
    assert h.recv_exact(s, 10) == OK5
    assert h.echo_roundtrip(s)
    s.close()


def test_socks5_args_510_bytes(client, echo):
    args = [("a", "b" * 250), ("c", "d" * 255)]
    enc = h.encode_args(args).encode()
    assert len(enc) == 510
    s, rep = h.socks5_connect(client, *echo.addr, args=enc)
    assert rep == 0
    s.close()


def test_socks5_malformed_args_rejected(client, echo):
    # "a;b": an entry without '=' -> RFC 1929 failure 01 01, then close
    s, rep = greet(client, b"\x00\x02")
    assert rep == b"\x05\x02"
    s.sendall(b"\x01\x03a;b\x01\x00")
    assert h.wait_closed(s) == b"\x01\x01"
    s.close()
    assert echo.conns == 0


@pytest.mark.parametrize("bad", [b"=v", b"k=v\\", b"k=v;;x"])
def test_socks5_other_malformed_args(client, echo, bad):
    s, rep = greet(client, b"\x02")
    s.sendall(b"\x01" + bytes([len(bad)]) + bad + b"\x01\x00")
    assert h.wait_closed(s) == b"\x01\x01"
    s.close()


def test_socks5_ipv6_target(client, servers):
    echo6 = servers(h.Server(h.echo_handler, "::1"))
    s, rep = greet(client)
    s.sendall(b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6, "::1")
              + struct.pack(">H", echo6.addr[1]))
    assert h.recv_exact(s, 10) == OK5
    assert h.echo_roundtrip(s)
    s.close()
    assert echo6.peers[0][0] == "::1"


def test_socks5_domain_target(client, servers):
    dual = servers(h.DualStackServer(h.echo_handler))
    s, rep = greet(client)
    s.sendall(b"\x05\x01\x00\x03\x09localhost" + struct.pack(">H", dual.port))
    assert h.recv_exact(s, 10) == OK5
    assert h.echo_roundtrip(s)
    s.close()
    assert dual.conns == 1


# ---- SOCKS4 / 4a ----------------------------------------------------------------------

def test_socks4_ipv4(client, echo):
    s, rep = h.socks4_connect(client, *echo.addr)
    assert rep == 0x5a
    assert h.echo_roundtrip(s)
    s.close()


def test_socks4_exact_reply_and_userid_args(client, echo):
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x01" + struct.pack(">H", echo.addr[1]) + socket.inet_aton("127.0.0.1")
              + b"k=v;x=y\x00")
    assert h.recv_exact(s, 8) == b"\x00\x5a" + bytes(6)
    assert h.echo_roundtrip(s)
    s.close()


def test_socks4_bad_userid_args(client, echo):
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x01" + struct.pack(">H", echo.addr[1]) + socket.inet_aton("127.0.0.1")
              + b"a;b\x00")
    assert h.wait_closed(s) == b"\x00\x5b" + bytes(6)
    s.close()
    assert echo.conns == 0


def test_socks4a_localhost(client, servers):
    dual = servers(h.DualStackServer(h.echo_handler))
    s, rep = h.socks4_connect(client, "localhost", dual.port)
    assert rep == 0x5a
    assert h.echo_roundtrip(s)
    s.close()
    assert dual.conns == 1


def test_socks4_bind_rejected(client, echo):
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x02" + struct.pack(">H", echo.addr[1]) + socket.inet_aton("127.0.0.1")
              + b"\x00")
    assert h.wait_closed(s) == b"\x00\x5b" + bytes(6)
    s.close()


def test_socks4_refused(client):
    s, rep = h.socks4_connect(client, "127.0.0.1", h.free_port())
    assert rep == 0x5b
    s.close()


# ---- bad requests ---------------------------------------------------------------------

@pytest.mark.parametrize("first", [b"\x00", b"\x06", b"G", b"\x16\x03\x01"])
def test_bad_version_byte_closed_without_reply(client, first):
    s = socket.create_connection(client, timeout=5)
    s.sendall(first + b"ET / HTTP/1.0\r\n\r\n")
    assert h.wait_closed(s) == b""
    s.close()


def test_bad_request_version(client, echo):
    s, rep = greet(client)
    assert rep == b"\x05\x00"
    s.sendall(b"\x04\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo.addr[1]))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x01)
    s.close()
    assert echo.conns == 0


def test_bind_command_unsupported(client, echo):
    s, rep = greet(client)
    s.sendall(b"\x05\x02\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo.addr[1]))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x07)
    s.close()


def test_udp_associate_unsupported(client, echo):
    s, rep = greet(client)
    s.sendall(b"\x05\x03\x00\x01" + bytes(6))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x07)
    s.close()


@pytest.mark.parametrize("atyp", [0x00, 0x02, 0x05, 0xff])
def test_bad_atyp(client, atyp):
    s, rep = greet(client)
    s.sendall(b"\x05\x01\x00" + bytes([atyp]) + bytes(6))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x08)
    s.close()


@pytest.mark.parametrize("methods", [b"\x01", b"\x03\x80", b"\xff"])
def test_no_acceptable_method(client, methods):
    s, rep = greet(client, methods)
    assert rep == b"\x05\xff"
    assert h.wait_closed(s) == b""
    s.close()


def test_bad_rfc1929_version(client):
    s, rep = greet(client, b"\x02")
    s.sendall(b"\x05\x03k=v\x01\x00")
    assert h.wait_closed(s) == b"\x01\x01"
    s.close()


def test_target_refused(client):
    s, rep = greet(client)
    s.sendall(h.socks5_request("127.0.0.1", h.free_port()))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x05)
    s.close()


def test_target_refused_ipv6(client):
    s, rep = greet(client)
    s.sendall(h.socks5_request("::1", h.free_port("::1")))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x05)
    s.close()


# ---- robustness -------------------------------------------------------------------------

def test_other_connections_work_while_garbage_is_open(client, echo):
    # half-finished greetings and requests, kept open
    idle = []
    for data in (b"", b"\x05", b"\x05\x02\x00", b"\x05\x01\x00\x05\x01\x00\x03\x20abc",
                 b"\x04\x01\x00\x50\x7f\x00\x00\x01userid-without-end"):
        s = socket.create_connection(client, timeout=5)
        if data:
            s.sendall(data)
        idle.append(s)
    try:
        time.sleep(0.2)
        for i in range(5):
            s, rep = h.socks5_connect(client, *echo.addr)
            assert rep == 0
            assert h.echo_roundtrip(s, 20000)
            s.close()
        # the idle ones got no reply yet beyond their method selection and are still open
        for s in idle:
            s.settimeout(0.1)
            try:
                d = s.recv(100)
            except socket.timeout:
                d = None
            assert d in (None, b"\x05\x00", b"\x05\x02"), d
    finally:
        for s in idle:
            s.close()


def test_pipelined_data_after_connect(client, servers):
    rec = h.Recorder()
    srv = servers(h.Server(rec))
    s, rep = greet(client)
    data = os.urandom(3000)
    s.sendall(h.socks5_request(*srv.addr) + data)
    assert h.recv_exact(s, 10) == OK5
    assert h.recv_exact(s, len(data)) == data
    s.close()
    h.wait_for(lambda: len(rec.received) == 1, 5, "the target connection")
    assert bytes(rec.received[0][:len(data)]) == data


def test_fully_pipelined_greeting_request_data(client, servers):
    rec = h.Recorder()
    srv = servers(h.Server(rec))
    data = b"early bytes " * 100
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x05\x01\x00" + h.socks5_request(*srv.addr) + data)
    assert h.recv_exact(s, 2) == b"\x05\x00"
    assert h.recv_exact(s, 10) == OK5
    assert h.recv_exact(s, len(data)) == data
    s.shutdown(socket.SHUT_WR)
    assert h.recv_all(s, 5) == b""
    s.close()
    assert bytes(rec.received[0]) == data


def test_pipelined_with_args_and_socks4(client, servers):
    rec = h.Recorder()
    srv = servers(h.Server(rec))
    data = b"\x00\x01\x02 tor cells " * 10
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x01" + struct.pack(">H", srv.addr[1]) + socket.inet_aton("127.0.0.1")
              + b"k=v\x00" + data)
    assert h.recv_exact(s, 8) == b"\x00\x5a" + bytes(6)
    assert h.recv_exact(s, len(data)) == data
    s.close()


def test_half_close_propagates(client, servers):
    rec = h.Recorder()
    srv = servers(h.Server(rec))
    s, rep = h.socks5_connect(client, *srv.addr)
    assert rep == 0
    s.sendall(b"last words")
    s.shutdown(socket.SHUT_WR)
    # the target sees EOF, echoes, and closes its side: we get everything, then EOF
    assert h.recv_all(s, 5) == b"last words"
    s.close()


def test_many_parallel_socks_connections(client, echo):
    errors = []

    def one(i):
        try:
            s, rep = h.socks5_connect(client, *echo.addr, args=[("i", str(i))] if i % 2 else None)
            assert rep == 0
            h.echo_roundtrip(s, 5000 + i)
            s.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors[:3]


# ---- TOR_PT_OUTBOUND_BIND_ADDRESS_* ----------------------------------------------------------

def test_outbound_bind_address_v4(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    env = h.client_env(tmp_path / "state", TOR_PT_OUTBOUND_BIND_ADDRESS_V4="127.0.0.2")
    _, _, socks = h.start_managed(pts, env)
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    assert echo.peers[0][0] == "127.0.0.2"


def test_outbound_bind_address_per_family(pts, tmp_path, servers):
    # a V4 bind address must not be applied to an IPv6 connection, and vice versa
    echo = servers(h.Server(h.echo_handler))
    echo6 = servers(h.Server(h.echo_handler, "::1"))
    env = h.client_env(tmp_path / "state", TOR_PT_OUTBOUND_BIND_ADDRESS_V4="127.0.0.3",
                       TOR_PT_OUTBOUND_BIND_ADDRESS_V6="[::1]")
    _, _, socks = h.start_managed(pts, env)
    s, rep = h.socks5_connect(socks, "::1", echo6.addr[1])
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    assert echo6.peers[0][0] == "::1"
    assert echo.peers[0][0] == "127.0.0.3"


def test_outbound_bind_address_also_for_the_proxy(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    proxy = servers(h.ProxyStub("socks5"))
    env = h.client_env(tmp_path / "state", TOR_PT_OUTBOUND_BIND_ADDRESS_V4="127.0.0.4",
                       TOR_PT_PROXY=proxy.url())
    pt = pts(env)
    _, methods = pt.config()
    s, rep = h.socks5_connect(methods["plain"][:2], *echo.addr)
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    assert proxy.server.peers[0][0] == "127.0.0.4"


# ---- more malformed requests ------------------------------------------------------------------

def test_zero_methods(client):
    s, rep = greet(client, b"")
    assert rep == b"\x05\xff"
    assert h.wait_closed(s) == b""
    s.close()


def test_rfc1929_empty_username(client):
    s, rep = greet(client, b"\x02")
    s.sendall(b"\x01\x00\x01\x00")
    assert h.wait_closed(s) == b"\x01\x01"
    s.close()


def test_domain_with_nul(client, echo):
    s, rep = greet(client)
    s.sendall(b"\x05\x01\x00\x03\x05lo\x00al" + struct.pack(">H", echo.addr[1]))
    assert h.wait_closed(s) == h.socks5_reply_bytes(0x01)
    s.close()
    assert echo.conns == 0


def test_socks4_userid_too_long(client, echo):
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x01" + struct.pack(">H", echo.addr[1]) + socket.inet_aton("127.0.0.1")
              + b"k=" + b"v" * 5000 + b"\x00")
    assert h.wait_closed(s) == b"\x00\x5b" + bytes(6)
    s.close()
    assert echo.conns == 0


def test_socks4a_domain_too_long(client):
    s = socket.create_connection(client, timeout=5)
    s.sendall(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00" + b"a" * 300 + b"\x00")
    assert h.wait_closed(s) == b"\x00\x5b" + bytes(6)
    s.close()
