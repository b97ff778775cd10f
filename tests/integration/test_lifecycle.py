"""Process lifecycle: signals, stdin, draining, descriptors, children."""
import os
import signal
import socket
import time

import pytest

import ptkit_harness as h


def start_client(pts, tmp_path, exit_on_stdin_close="1", name="state"):
    env = h.client_env(tmp_path / name, exit_on_stdin_close=exit_on_stdin_close)
    assert exit_on_stdin_close is not None or "TOR_PT_EXIT_ON_STDIN_CLOSE" not in env
    pt = pts(env)
    lines, methods = pt.config()
    return pt, methods["plain"][:2]


def exit_within(pt, seconds):
    t0 = time.monotonic()
    rc = pt.wait(seconds)
    assert rc is not None, f"still running {seconds}s later"
    return rc, time.monotonic() - t0


def refused(addr):
    """True if a connect to addr is refused (nothing listens)."""
    try:
        s = socket.create_connection(addr, timeout=2)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False  # queued as the listener closed: not yet a clean refusal
    s.close()
    return False


# ---- SIGTERM and stdin ---------------------------------------------------------------------

def test_sigterm_exits_0_quickly(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path)
    s, rep = h.socks5_connect(socks, *echo.addr)  # an open connection does not delay it
    assert rep == 0
    pt.proc.send_signal(signal.SIGTERM)
    rc, took = exit_within(pt, 2)
    assert rc == 0
    assert h.wait_closed(s, 2) == b""
    s.close()
    rest = pt.rest(2)
    assert all(l.startswith("LOG ") for l in rest), rest
    assert any("SIGTERM" in m for m in h.log_messages(rest)), rest


def test_sigterm_server_role(pts, tmp_path):
    pt = pts(h.server_env(tmp_path / "state"))
    pt.config()
    pt.proc.send_signal(signal.SIGTERM)
    rc, _ = exit_within(pt, 2)
    assert rc == 0


def test_stdin_close_exits_when_asked(pts, tmp_path):
    pt, socks = start_client(pts, tmp_path, "1")
    pt.proc.stdin.close()
    rc, _ = exit_within(pt, 2)
    assert rc == 0
    assert refused(socks)


@pytest.mark.parametrize("flag", ["0", None])
def test_stdin_close_ignored_otherwise(pts, tmp_path, servers, flag):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path, flag)
    pt.proc.stdin.close()
    time.sleep(1.0)
    assert pt.alive(), "exited on stdin close without TOR_PT_EXIT_ON_STDIN_CLOSE=1"
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    pt.proc.send_signal(signal.SIGTERM)
    rc, _ = exit_within(pt, 2)
    assert rc == 0


def test_stdin_data_is_ignored(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path, "1")
    pt.proc.stdin.write(b"anything tor might write\n" * 100)
    pt.proc.stdin.flush()
    time.sleep(0.3)
    assert pt.alive()
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    s.close()


# ---- SIGINT: drain, then exit ----------------------------------------------------------------

def test_sigint_drains(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path)
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    pt.proc.send_signal(signal.SIGINT)
    h.wait_for(lambda: refused(socks), 2, "the listener to close")
    time.sleep(0.3)
    assert pt.alive(), "exited while a connection was still open"
    assert h.echo_roundtrip(s, 300000), "open connection stopped relaying after SIGINT"
    assert refused(socks)
    s.close()
    rc, _ = exit_within(pt, 2)
    assert rc == 0


def test_sigint_server_role_drains(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt = pts(h.server_env(tmp_path / "state", orport="%s:%d" % echo.addr))
    _, methods = pt.config()
    addr = methods["plain"][:2]
    c = socket.create_connection(addr, timeout=5)
    assert h.echo_roundtrip(c)
    pt.proc.send_signal(signal.SIGINT)
    h.wait_for(lambda: refused(addr), 2, "the listener to close")
    assert h.echo_roundtrip(c)
    c.close()
    rc, _ = exit_within(pt, 2)
    assert rc == 0


def test_second_sigint_exits_now(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path)
    s, rep = h.socks5_connect(socks, *echo.addr)
    assert rep == 0
    pt.proc.send_signal(signal.SIGINT)
    h.wait_for(lambda: refused(socks), 2, "the listener to close")
    assert pt.alive()
    pt.proc.send_signal(signal.SIGINT)
    rc, _ = exit_within(pt, 2)
    assert rc == 0
    assert h.wait_closed(s, 2) == b""
    s.close()


def test_sigint_without_connections_exits(pts, tmp_path):
    pt, socks = start_client(pts, tmp_path)
    pt.proc.send_signal(signal.SIGINT)
    rc, _ = exit_within(pt, 2)
    assert rc == 0


# ---- resources ----------------------------------------------------------------------------------

def _settle_fds(pid, baseline, timeout=3.0):
    deadline = time.monotonic() + timeout
    n = h.fd_count(pid)
    while n > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        n = h.fd_count(pid)
    return n


def test_no_fd_leak_client(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path)
    # one warm-up connection (lazy allocations), then the baseline
    s, _ = h.socks5_connect(socks, *echo.addr)
    s.close()
    time.sleep(0.2)
    base = h.fd_count(pt.pid)
    closed_port = h.free_port()
    for i in range(200):
        kind = i % 5
        if kind == 0:  # relayed, closed by us
            s, rep = h.socks5_connect(socks, *echo.addr)
            assert rep == 0
            s.sendall(b"x" * 100)
            h.recv_exact(s, 100)
            s.close()
        elif kind == 1:  # relayed, half-closed
            s, rep = h.socks5_connect(socks, *echo.addr, args=[("i", str(i))])
            assert rep == 0
            s.shutdown(socket.SHUT_WR)
            h.recv_all(s, 5)
            s.close()
        elif kind == 2:  # refused target
            s, rep = h.socks5_connect(socks, "127.0.0.1", closed_port)
            assert rep == 5
            s.close()
        elif kind == 3:  # garbage
            s = h.socks5_raw(socks, b"\x16\x03\x01garbage")
            h.wait_closed(s)
            s.close()
        else:  # gone in the middle of the greeting
            s = h.socks5_raw(socks, b"\x05\x02")
            s.close()
    n = _settle_fds(pt.pid, base)
    assert n <= base, f"fd count {n} > baseline {base} after 200 connections"
    assert pt.alive()


def test_no_fd_leak_server_extorport(pts, tmp_path, servers):
    cookie_path = tmp_path / "cookie"
    stub = servers(h.ExtORPortStub(h.make_cookie(cookie_path), early_wait=0.02))
    pt = pts(h.server_env(tmp_path / "state", extorport="%s:%d" % stub.addr,
                          cookie_file=cookie_path))
    _, methods = pt.config()
    addr = methods["plain"][:2]
    c = socket.create_connection(addr, timeout=5)
    h.echo_roundtrip(c, 10)
    c.close()
    time.sleep(0.3)
    base = h.fd_count(pt.pid)
    socks = []
    for i in range(200):
        c = socket.create_connection(addr, timeout=5)
        if i % 4 == 0:
            c.sendall(b"abc")
            assert h.recv_exact(c, 3) == b"abc"
        socks.append(c)
        if len(socks) >= 20:
            for x in socks:
                x.close()
            socks = []
    for x in socks:
        x.close()
    n = _settle_fds(pt.pid, base, timeout=5)
    assert n <= base, f"fd count {n} > baseline {base} after 200 connections"


def test_no_zombie_children(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt, socks = start_client(pts, tmp_path)
    for _ in range(20):
        s, rep = h.socks5_connect(socks, *echo.addr)
        s.close()
    time.sleep(0.2)
    kids = h.children_of(pt.pid)
    states = {}
    for k in kids:
        try:
            with open(f"/proc/{k}/stat") as f:
                states[k] = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass
    assert not [k for k, st in states.items() if st == "Z"], states
    assert kids == [], f"ptkit has child processes: {kids}"
    pt.proc.send_signal(signal.SIGTERM)
    assert pt.wait(2) == 0
    # reaped by us; nothing of it is left in the process table
    assert not os.path.exists(f"/proc/{pt.pid}") or \
        open(f"/proc/{pt.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"


def test_max_conns_refuses_beyond_limit(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    env = h.client_env(tmp_path / "state")
    pt = pts(env, ["--max-conns", "2"])
    _, methods = pt.config()
    socks = methods["plain"][:2]
    a, ra = h.socks5_connect(socks, *echo.addr)
    b, rb = h.socks5_connect(socks, *echo.addr)
    assert ra == 0 and rb == 0
    c = socket.create_connection(socks, timeout=5)
    c.sendall(b"\x05\x01\x00")
    assert h.wait_closed(c) == b""
    c.close()
    a.close()
    time.sleep(0.2)
    d, rd = h.socks5_connect(socks, *echo.addr)
    assert rd == 0
    d.close()
    b.close()


# ---- tor's way of stopping a PT ------------------------------------------------------------------

def _spawn_raw(env, argv=()):
    """A PT whose pipes the test closes itself (the harness's reader threads would hold them)."""
    import selectors
    import subprocess
    p = subprocess.Popen([h.PTKIT] + list(argv), env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 10
    while b"METHODS DONE\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            p.kill()
            p.wait()
            raise AssertionError(f"no METHODS DONE: {buf!r}")
        d = os.read(p.stdout.fileno(), 4096)
        if not d:
            p.wait()
            raise AssertionError(f"EOF before METHODS DONE: {buf!r}")
        buf += d
    sel.close()
    return p, buf.decode().splitlines()


@pytest.mark.parametrize("how", ["sigterm", "stdin"])
def test_parent_closes_all_pipes(tmp_path, how):
    """tor sends SIGTERM and closes stdin, stdout and stderr at once (or just dies):
    writing the farewell LOG line to a closed pipe must not kill ptkit with SIGPIPE."""
    p, lines = _spawn_raw(h.client_env(tmp_path / "state"), ["--log-level", "debug"])
    try:
        if how == "sigterm":
            p.send_signal(signal.SIGTERM)
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
        rc = p.wait(3)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 0, f"exit status {rc}"
