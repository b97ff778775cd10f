"""`ptkit host`: the parent side of the PT protocol, without tor.

The host launches managed PTs (ptkit, Debian's obfs4proxy and snowflake-client,
and small fake PT scripts that misbehave on purpose), serves the Extended
ORPort to server PTs and forwards their clients to ServerForward, and tunnels
ClientListen connections through a client PT's SOCKS port.

Every test here starts the host, and the host starts programs that may dial
out: all of them require a private loopback-only network namespace (the
autouse fixture below calls h.require_private_netns() before each test).
Run as:  PTKIT=$PWD/build/ptkit scripts/in-netns /usr/bin/python3 -m pytest -q \
             tests/integration/test_host*.py
"""
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import threading
import time

import pytest

import ptkit_harness as h

OBFS4PROXY = "/usr/bin/obfs4proxy"
SNOWFLAKE = "/usr/bin/snowflake-client"
FP = "0123456789ABCDEF0123456789ABCDEF01234567"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _private_netns():
    h.require_private_netns()


# ---- the host process ------------------------------------------------------------------

def host_env(**extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


class Host:
    """`ptkit host -f CONFIG`, its stderr (the log) collected line by line."""

    live = set()

    def __init__(self, conf, args=(), env=None):
        self.conf = str(conf)
        self.argv = [h.PTKIT, "host", "-f", self.conf] + list(args)
        self.proc = subprocess.Popen(self.argv, env=env or host_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.lines = []
        self.out = []
        self._cv = threading.Condition()
        self._eof = False
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()
        self._to = threading.Thread(target=self._drain_out, daemon=True)
        self._to.start()
        Host.live.add(self)

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def _drain_out(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.out.append(raw.decode(errors="replace"))

    @property
    def log(self):
        with self._cv:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=10.0, start=0):
        """First log line (from index start) matching the regex; returns (match, index)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m, i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout}s; "
                                         f"log:\n{chr(10).join(self.lines[-60:])}")
                self._cv.wait(min(left, 0.2))

    def findall(self, pattern):
        rx = re.compile(pattern)
        with self._cv:
            return [m for m in (rx.search(l) for l in self.lines) if m]

    def pt_pids(self):
        return [int(m.group(1)) for m in self.findall(r"launched \(pid (\d+)\)")]

    def wait(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self):
        self._t.join(5)
        self._to.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass
        Host.live.discard(self)
        report = h.sanitizer_hits(self.log)
        assert not report, f"sanitizer report in the host's log ({self.argv}):\n{report}"

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status (AssertionError if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"host did not exit within {timeout}s of SIGTERM; log:\n"
                                 + "\n".join(self.lines[-40:]))
        self.finish()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            self.finish()
        except AssertionError:
            pass


@pytest.fixture
def hosts():
    made = []

    def start(conf, args=(), env=None):
        hst = Host(conf, args, env)
        made.append(hst)
        return hst

    yield start
    for hst in made:
        hst.kill()
    for hst in made:  # whatever a failed test left running
        for pid in hst.pt_pids():
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def write_conf(path, *lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_gone(pids, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if pid_alive(p)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes still running after the host exited: {left}")
        time.sleep(0.05)


def stop_clean(hst, timeout=10.0):
    """SIGTERM the host: it must exit 0 and leave none of its PTs running."""
    pids = hst.pt_pids()
    assert pids, hst.log
    rc = hst.stop(timeout)
    assert rc == 0, f"exit status {rc}; log:\n{hst.log}"
    assert_gone(pids)
    return pids


# ---- obfs4 through the host in both roles -------------------------------------------------

def pt_exec(kind, role):
    if kind == "ptkit":
        return f"{h.PTKIT} --log-level info"
    assert os.path.exists(OBFS4PROXY), "obfs4proxy is not installed (apt-get install obfs4proxy)"
    return f"{OBFS4PROXY} -enableLogging -logLevel DEBUG"


def keygen_cert(state_dir):
    rc, out, err = h.run_ptkit(["keygen", "--state", str(state_dir)])
    assert rc == 0, err
    m = re.search(r"^Bridge obfs4 .* cert=(\S+) iat-mode=(\d)$", out, re.M)
    assert m, out
    return m.group(1)


def smethod_args(raw):
    """{k: v} from SMETHOD ARGS text (',' separated, backslash escapes)."""
    out, cur, parts, i = {}, "", [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            cur += raw[i + 1]
            i += 2
            continue
        if raw[i] == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += raw[i]
        i += 1
    parts.append(cur)
    for p in parts:
        k, _, v = p.partition("=")
        out[k] = v
    return out


def start_server_host(hosts, tmp_path, kind, forward, extorport="auto", listen="127.0.0.1:0",
                      name="srv"):
    dd = tmp_path / name
    cert = keygen_cert(dd / "pt_state") if kind == "ptkit" else None
    conf = write_conf(tmp_path / f"{name}.conf",
                      f"DataDirectory {dd}",
                      "Log info",
                      f"ServerTransportPlugin obfs4 exec {pt_exec(kind, 'server')}",
                      f"ServerTransportListenAddr obfs4 {listen}",
                      f"ServerForward {forward[0]}:{forward[1]}",
                      f"ExtORPort {extorport}",
                      "PTConfigTimeout 20",
                      "PTShutdownGrace 1")
    hst = hosts(conf)
    m, _ = hst.wait_log(r"server transport obfs4 at (127\.0\.0\.1:\d+) ARGS:(\S+)", 25)
    args = smethod_args(m.group(2))
    if cert is not None:  # the host's PT uses the identity keygen made
        assert args["cert"] == cert, (args, cert)
    hst.wait_log(r"PT .* configured with 1 transport", 10)
    return hst, m.group(1), args["cert"]


def start_client_host(hosts, tmp_path, kind, bridge, cert, name="cli", extra=()):
    listen = ("127.0.0.1", h.free_port())
    conf = write_conf(tmp_path / f"{name}.conf",
                      f"DataDirectory {tmp_path / name}",
                      "Log info",
                      f"ClientTransportPlugin obfs4 exec {pt_exec(kind, 'client')}",
                      f"Bridge obfs4 {bridge} {FP} cert={cert} iat-mode=0",
                      f"ClientListen {listen[0]}:{listen[1]} 1",
                      "PTConfigTimeout 20",
                      "PTShutdownGrace 1",
                      *extra)
    hst = hosts(conf)
    hst.wait_log(r"client transport obfs4 at 127\.0\.0\.1:\d+", 25)
    hst.wait_log(r"PT .* configured with 1 transport", 10)
    return hst, listen


def tunnel_roundtrip(listen, n=MIB, timeout=30.0):
    payload = os.urandom(n)
    s = socket.create_connection(listen, timeout=timeout)
    try:
        got = h.pump_through(s, payload)
    finally:
        s.close()
    assert len(got) == n, f"{len(got)} of {n} bytes came back"
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


@pytest.mark.parametrize("server,client,extorport", [
    ("ptkit", "ptkit", "auto"),
    ("ptkit", "ptkit", "0"),
    ("obfs4proxy", "ptkit", "auto"),
    ("ptkit", "obfs4proxy", "auto"),
    ("obfs4proxy", "obfs4proxy", "0"),
])
def test_obfs4_tunnel(hosts, servers, tmp_path, server, client, extorport):
    echo = servers(h.Server(h.echo_handler))
    srv, bridge, cert = start_server_host(hosts, tmp_path, server, echo.addr, extorport)
    cli, listen = start_client_host(hosts, tmp_path, client, bridge, cert)
    tunnel_roundtrip(listen)
    tunnel_roundtrip(listen, 4096)  # a second connection through the same PTs
    if extorport == "auto":
        # the server PT really went through our Extended ORPort
        srv.wait_log(r"Extended ORPort: accepted transport=obfs4 useraddr=\[scrubbed\]", 5)
        assert "127.0.0.1:" not in " ".join(
            l for l in srv.lines if "Extended ORPort: accepted" in l)
    else:
        assert not srv.findall(r"Extended ORPort: accepted")
    assert echo.conns == 2
    stop_clean(cli)
    stop_clean(srv)


def test_obfs4_both_roles_in_one_host_over_ipv6(hosts, servers, tmp_path):
    """One host runs the server PT and the client PT; the bridge is on [::1]."""
    echo = servers(h.Server(h.echo_handler))
    dd = tmp_path / "dd"
    cert = keygen_cert(dd / "pt_state")
    port, lport = h.free_port("::1"), h.free_port("::1")
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {dd}", "Log info",
                      f"ServerTransportPlugin obfs4 exec {h.PTKIT} --log-level info",
                      f"ServerTransportListenAddr obfs4 [::1]:{port}",
                      f"ServerForward {echo.addr[0]}:{echo.addr[1]}",
                      f"ClientTransportPlugin obfs4 exec {h.PTKIT} --log-level info",
                      f"Bridge obfs4 [::1]:{port} cert={cert} iat-mode=0",
                      f"ClientListen [::1]:{lport} [::1]:{port}",
                      "PTShutdownGrace 1", "PTConfigTimeout 20")
    hst = hosts(conf)
    hst.wait_log(r"server transport obfs4 at \[::1\]:%d ARGS:cert=" % port, 20)
    hst.wait_log(r"PT ptkit server \(obfs4\) configured with 1 transport", 20)
    hst.wait_log(r"PT ptkit client \(obfs4\) configured with 1 transport", 20)
    assert len(hst.pt_pids()) == 2
    tunnel_roundtrip(("::1", lport), MIB)
    hst.wait_log(r"Extended ORPort: accepted transport=obfs4 useraddr=\[scrubbed\]", 5)
    stop_clean(hst)


# ---- snowflake-client: the managed handshake only -----------------------------------------

def test_snowflake_client_handshake_and_shutdown(hosts, tmp_path):
    if not os.path.exists(SNOWFLAKE):  # no network in here: install it beforehand
        pytest.fail("snowflake-client is missing: apt-get install snowflake-client (bookworm)")
    conf = write_conf(tmp_path / "sf.conf",
                      f"DataDirectory {tmp_path / 'sf'}",
                      "Log info",
                      f"ClientTransportPlugin snowflake exec {SNOWFLAKE}",
                      "Bridge snowflake 192.0.2.3:80 " + FP +
                      " url=https://snowflake-broker.invalid/ fronts=x.invalid",
                      f"ClientListen 127.0.0.1:{h.free_port()} 1",
                      "PTConfigTimeout 20",
                      "PTShutdownGrace 2")
    hst = hosts(conf)
    m, _ = hst.wait_log(r"client transport snowflake at (127\.0\.0\.1:\d+)", 25)
    hst.wait_log(r"PT snowflake-client client \(snowflake\) configured with 1 transport", 5)
    # its SOCKS port is really there
    socket.create_connection(h.split_addr(m.group(1)), timeout=5).close()
    pids = hst.pt_pids()
    assert len(pids) == 1 and pids[0] in h.children_of(hst.pid)
    t0 = time.monotonic()
    stop_clean(hst)
    # it left on stdin close, within the grace period: no SIGTERM, no SIGKILL needed
    assert time.monotonic() - t0 < 2.0 + 1.5
    assert not hst.findall(r"ignored SIGTERM"), hst.log


# ---- fake PTs that break the protocol ----------------------------------------------------

# Each fake ignores SIGTERM (so the PR_SET_PDEATHSIG safety net cannot hide a
# host that forgets it) and exits only when its stdin closes.
FAKE_HEAD = "#!/bin/sh\ntrap '' TERM\n"
FAKE_TAIL = "exec cat >/dev/null\n"


def fake_pt(tmp_path, body, name="fake", wait_stdin=True):
    path = tmp_path / f"{name}.sh"
    path.write_text(FAKE_HEAD + body + (FAKE_TAIL if wait_stdin else ""))
    path.chmod(0o755)
    return path


def out(*lines):
    return "".join("printf '%s\\n' " + shq(l) + "\n" for l in lines)


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


BROKEN = [
    # id, role, stdout, expected text after "failed the configuration protocol: ", extra config
    ("no-version", "client", out("CMETHOD fake socks5 127.0.0.1:1080", "CMETHODS DONE"),
     "CMETHOD line before VERSION", []),
    ("bad-address", "client", out("VERSION 1", "CMETHOD fake socks5 127.0.0.300:1080"),
     "malformed CMETHOD line (address is not a literal IP:port)", []),
    ("no-port", "client", out("VERSION 1", "CMETHOD fake socks5 127.0.0.1"),
     "malformed CMETHOD line (address is not a literal IP:port)", []),
    ("hostname", "client", out("VERSION 1", "CMETHOD fake socks5 localhost:1080"),
     "malformed CMETHOD line (address is not a literal IP:port)", []),
    ("port-0", "client", out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:0"),
     "malformed CMETHOD line (bad or zero port)", []),
    ("bad-protocol", "client", out("VERSION 1", "CMETHOD fake socks6 127.0.0.1:1080"),
     "malformed CMETHOD line (unknown proxy protocol", []),
    ("line-after-done", "client",
     out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080", "CMETHODS DONE",
         "CMETHOD fake socks5 127.0.0.1:1081"),
     "CMETHOD line after *METHODS DONE", []),
    ("proxy-error", "client", out("VERSION 1", "PROXY-ERROR the proxy refused us"),
     "PROXY-ERROR the proxy refused us", ["Socks5Proxy 127.0.0.1:9"]),
    ("no-proxy-done", "client",
     out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080", "CMETHODS DONE"),
     "it did not confirm the outgoing proxy (no PROXY DONE)", ["Socks5Proxy 127.0.0.1:9"]),
    ("exit-before-done", "client", out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080")
     + "exit 3\n", "it exited before finishing configuration (exit status 3)", []),
    ("killed-before-done", "client", out("VERSION 1") + "kill -KILL $$\n",
     "it exited before finishing configuration (signal 9)", []),
    ("silence", "client", "", "it did not finish configuration within 1 s",
     ["PTConfigTimeout 1"]),
    ("version-2", "client", out("VERSION 2"), "it chose version \"2\"; only 1 was offered", []),
    ("version-error", "client", out("VERSION-ERROR no-version"),
     "it supports no protocol version we offered (VERSION-ERROR)", []),
    ("env-error", "client", out("ENV-ERROR no TOR_PT_STATE_LOCATION for me"),
     "ENV-ERROR no TOR_PT_STATE_LOCATION for me", []),
    ("smethod-hostname", "server", out("VERSION 1", "SMETHOD fake bridge.example:443"),
     "malformed SMETHOD line (address is not a literal IP:port)", []),
    ("smethods-done-twice", "server",
     out("VERSION 1", "SMETHOD fake 127.0.0.1:443", "SMETHODS DONE", "SMETHODS DONE"),
     "*METHODS DONE out of order", []),
]


@pytest.mark.parametrize("role,body,expect,extra", [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_protocol_violation_stops_pt_and_host_exits_1(hosts, servers, tmp_path, role, body,
                                                      expect, extra):
    fake = fake_pt(tmp_path, body)
    lines = [f"DataDirectory {tmp_path / 'dd'}", "Log info", "PTConfigTimeout 3",
             "PTShutdownGrace 1"]
    if role == "client":
        lines.append(f"ClientTransportPlugin fake exec {fake}")
    else:
        echo = servers(h.Server(h.echo_handler))
        lines += [f"ServerTransportPlugin fake exec {fake}", f"ServerForward {echo.addr[0]}:"
                  f"{echo.addr[1]}"]
    conf = write_conf(tmp_path / "h.conf", *lines, *extra)
    t0 = time.monotonic()
    hst = hosts(conf)
    rc = hst.wait(15)
    assert rc == 1, f"exit status {rc}; log:\n{hst.log}"
    hst.finish()
    want = f"failed the configuration protocol: {expect}"
    assert want in hst.log, hst.log
    assert re.search(r"\[error\] PT fake\.sh (client|server) \(fake\) " + re.escape(want),
                     hst.log), hst.log
    assert "no usable PT is left" in hst.log
    pids = hst.pt_pids()
    assert len(pids) == 1, hst.log  # a broken PT is not restarted
    assert_gone(pids)
    # stdin closed at once, so the fake left without the grace period (1 s) or a SIGKILL
    assert not hst.findall("killing it"), hst.log
    assert time.monotonic() - t0 < 10


def test_unexecutable_pt_is_an_error(hosts, tmp_path):
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}",
                      f"ClientTransportPlugin fake exec {tmp_path / 'missing'}")
    hst = hosts(conf)
    assert hst.wait(10) == 1, hst.log
    hst.finish()
    assert re.search(r"PT missing client \(fake\) failed the configuration protocol: "
                     r"cannot execute .*missing: No such file", hst.log), hst.log
    assert "no usable PT is left" in hst.log


def test_one_broken_pt_of_two_keeps_the_host_running(hosts, tmp_path):
    bad = fake_pt(tmp_path, out("VERSION 7"), "bad")
    good = fake_pt(tmp_path, out("VERSION 1", "CMETHOD good socks5 127.0.0.1:1080",
                                 "CMETHODS DONE"), "good")
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin bad exec {bad}",
                      f"ClientTransportPlugin good exec {good}",
                      "PTShutdownGrace 1")
    hst = hosts(conf)
    hst.wait_log(r"PT bad\.sh client \(bad\) failed the configuration protocol: it chose version")
    hst.wait_log(r"PT good\.sh client \(good\) configured with 1 transport")
    time.sleep(0.5)
    assert hst.proc.poll() is None, hst.log
    assert "no usable PT" not in hst.log
    stop_clean(hst)


def test_unknown_lines_and_logs_are_tolerated(hosts, tmp_path):
    fake = fake_pt(tmp_path, out("HELLO THERE", "VERSION 1",
                                 'LOG SEVERITY=warning MESSAGE="a \\"quoted\\" warning"',
                                 "STATUS TRANSPORT=fake CONNECT=Success",
                                 "CMETHOD-ERROR other no such transport",
                                 "CMETHOD fake socks4 127.0.0.1:1080", "CMETHODS DONE"))
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin fake,other exec {fake}", "PTShutdownGrace 1")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    assert re.search(r"\[notice\] PT fake\.sh client \(fake,other\): unknown line ignored: "
                     r"HELLO THERE", hst.log), hst.log
    assert re.search(r'\[warning\] PT .*: a "quoted" warning', hst.log), hst.log
    assert re.search(r"\[info\] PT .*: STATUS TRANSPORT=fake CONNECT=Success", hst.log)
    assert re.search(r"\[warning\] PT .*: CMETHOD-ERROR other: no such transport", hst.log)
    assert re.search(r"client transport fake at 127\.0\.0\.1:1080", hst.log)
    stop_clean(hst)


def test_crlf_and_overlong_lines(hosts, tmp_path):
    """tor strips one '\\r'; a line over the host's limit is cut and ignored, not fatal."""
    fake = fake_pt(tmp_path, "printf 'VERSION 1\\r\\n'\n"
                             "head -c 20000 /dev/zero | tr '\\0' X; printf '\\n'\n"
                             "printf 'CMETHOD fake socks5 127.0.0.1:1080\\r\\nCMETHODS DONE\\r\\n'\n")
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin fake exec {fake}", "PTShutdownGrace 1")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    assert hst.findall(r"client transport fake at 127\.0\.0\.1:1080$")
    (m,) = hst.findall(r"unknown line ignored: (X+)$")
    assert 100 <= len(m.group(1)) <= 1000  # shown cut short
    stop_clean(hst)


def test_same_exec_line_is_one_pt(hosts, tmp_path):
    """As tor: transports of identical exec lines share one process."""
    pt, envfile = env_dumper(tmp_path, "cli", ["VERSION 1", "CMETHOD a socks5 127.0.0.1:1080",
                                               "CMETHOD b socks4 127.0.0.1:1081",
                                               "CMETHODS DONE"])
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin a exec {pt} -x",
                      f"ClientTransportPlugin b exec {pt} -x",
                      "PTShutdownGrace 1")
    hst = hosts(conf)
    env = read_env(envfile)
    hst.wait_log(r"PT cli\.py client \(a,b\) configured with 2 transports")
    assert env["TOR_PT_CLIENT_TRANSPORTS"] == "a,b"
    assert len(hst.pt_pids()) == 1
    stop_clean(hst)


def test_log_file(hosts, tmp_path):
    fake = fake_pt(tmp_path, out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080",
                                 "CMETHODS DONE"))
    logf = tmp_path / "host.log"
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}",
                      f"Log info file {logf}", f"ClientTransportPlugin fake exec {fake}",
                      "PTShutdownGrace 1")
    hst = hosts(conf)
    h.wait_for(lambda: logf.exists() and "configured with 1 transport" in logf.read_text(), 10,
               "the log file")
    assert stat.S_IMODE(os.stat(logf).st_mode) == 0o600
    pids = [int(x) for x in re.findall(r"launched \(pid (\d+)\)", logf.read_text())]
    assert hst.stop() == 0
    assert_gone(pids)
    assert hst.log == ""  # nothing on stderr
    assert "SIGTERM: stopping the PTs" in logf.read_text()


# ---- the environment the host gives its PTs ----------------------------------------------

ENV_DUMPER = """#!/usr/bin/python3
import json, os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open({path!r} + ".tmp", "w") as f:
    json.dump(dict(os.environ), f)
os.rename({path!r} + ".tmp", {path!r})
sys.stdout.write({lines!r})
sys.stdout.flush()
sys.stdin.buffer.read()
"""


def env_dumper(tmp_path, name, lines):
    envfile = tmp_path / f"{name}.env.json"
    path = tmp_path / f"{name}.py"
    path.write_text(ENV_DUMPER.format(path=str(envfile), lines="".join(l + "\n" for l in lines)))
    path.chmod(0o755)
    return path, envfile


def read_env(envfile, timeout=10.0):
    h.wait_for(lambda: envfile.exists(), timeout, f"{envfile}")
    return json.loads(envfile.read_text())


def test_client_environment_as_tor_builds_it(hosts, tmp_path):
    pt, envfile = env_dumper(tmp_path, "cli", ["VERSION 1", "PROXY DONE",
                                               "CMETHOD a socks5 127.0.0.1:1080",
                                               "CMETHODS DONE"])
    dd = tmp_path / "dd"
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {dd}", "Log info",
                      f"ClientTransportPlugin a,b exec {pt} --flag \"two words\"",
                      "Socks5Proxy 127.0.0.1:9050", "Socks5ProxyUsername us:er",
                      "Socks5ProxyPassword p@ss", "OutboundBindAddress 10.0.0.1",
                      "OutboundBindAddressPT [2001:db8::4]", "PTShutdownGrace 1")
    hst = hosts(conf, env=host_env(INHERITED="yes", TOR_PT_PROXY="socks4a://6.6.6.6:6",
                                   TOR_PT_SERVER_TRANSPORTS="x"))
    env = read_env(envfile)
    hst.wait_log(r"configured with 1 transport")
    assert env["TOR_PT_MANAGED_TRANSPORT_VER"] == "1"
    assert env["TOR_PT_STATE_LOCATION"] == f"{dd}/pt_state/"
    assert os.path.isdir(f"{dd}/pt_state")
    assert env["TOR_PT_CLIENT_TRANSPORTS"] == "a,b"
    assert env["TOR_PT_EXIT_ON_STDIN_CLOSE"] == "1"
    assert env["TOR_PT_PROXY"] == "socks5://us:er:p@ss@127.0.0.1:9050"
    assert env["TOR_PT_OUTBOUND_BIND_ADDRESS_V4"] == "10.0.0.1"
    assert env["TOR_PT_OUTBOUND_BIND_ADDRESS_V6"] == "[2001:db8::4]"
    assert env["INHERITED"] == "yes"  # the rest of our environment, as tor passes its own
    assert env["TOR_PT_SERVER_TRANSPORTS"] == "x"  # not ours to set in a client PT: inherited
    for k in ("TOR_PT_ORPORT", "TOR_PT_EXTENDED_SERVER_PORT", "TOR_PT_SERVER_BINDADDR",
              "TOR_PT_AUTH_COOKIE_FILE"):
        assert k not in env, k
    stop_clean(hst)


def test_server_environment_as_tor_builds_it(hosts, servers, tmp_path):
    echo = servers(h.Server(h.echo_handler))
    pt, envfile = env_dumper(tmp_path, "srv", ["VERSION 1", "SMETHOD a 127.0.0.1:4443",
                                               "SMETHOD bb 127.0.0.1:4444 ARGS:k=v\\,w",
                                               "SMETHODS DONE"])
    dd = tmp_path / "dd"
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {dd}", "Log info",
                      f"ServerTransportPlugin a,bb,c exec {pt}",
                      "ServerTransportListenAddr bb [::1]:4444",
                      "ServerTransportListenAddr a 127.0.0.1:4443",
                      "ServerTransportOptions a k=b:c;d\\e x=y=z",
                      "ServerTransportOptions bb k=v",
                      f"ServerForward {echo.addr[0]}:{echo.addr[1]}",
                      "Socks5Proxy 127.0.0.1:9050",
                      "PTShutdownGrace 1")
    hst = hosts(conf)
    env = read_env(envfile)
    hst.wait_log(r"configured with 2 transports")
    assert hst.findall(r"server transport bb at 127\.0\.0\.1:4444 ARGS:k=v\\,w")
    assert env["TOR_PT_SERVER_TRANSPORTS"] == "a,bb,c"
    assert env["TOR_PT_SERVER_BINDADDR"] == "a-127.0.0.1:4443,bb-[::1]:4444,c-0.0.0.0:0"
    assert env["TOR_PT_SERVER_TRANSPORT_OPTIONS"] == "a:k=b\\:c\\;d\\\\e;a:x=y=z;bb:k=v"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["TOR_PT_ORPORT"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["TOR_PT_EXTENDED_SERVER_PORT"])
    assert env["TOR_PT_AUTH_COOKIE_FILE"] == f"{dd}/extended_orport_auth_cookie"
    assert env["TOR_PT_STATE_LOCATION"] == f"{dd}/pt_state/"
    assert env["TOR_PT_EXIT_ON_STDIN_CLOSE"] == "1"
    assert "TOR_PT_PROXY" not in env  # tor gives the proxy to client PTs only
    assert "TOR_PT_CLIENT_TRANSPORTS" not in env
    stop_clean(hst)


# ---- restart with backoff ----------------------------------------------------------------

def test_restart_after_kill_with_backoff(hosts, servers, tmp_path):
    echo = servers(h.Server(h.echo_handler))
    srv, bridge, cert = start_server_host(hosts, tmp_path, "ptkit", echo.addr)
    cli, listen = start_client_host(hosts, tmp_path, "ptkit", bridge, cert)
    tunnel_roundtrip(listen, 64 * 1024)
    (p1,) = cli.pt_pids()
    assert p1 in h.children_of(cli.pid)
    m, _ = cli.wait_log(r"client transport obfs4 at (127\.0\.0\.1:\d+)")
    socks1 = m.group(1)

    os.kill(p1, signal.SIGKILL)
    m, i = cli.wait_log(r"PT .* died \(signal 9\); restarting in (\d+) s", 5)
    assert m.group(1) == "1", m.group(0)
    t_died = time.monotonic()
    m, i = cli.wait_log(r"launched \(pid (\d+)\)", 5, i)
    p2 = int(m.group(1))
    assert p2 != p1 and time.monotonic() - t_died > 0.7
    m, i = cli.wait_log(r"client transport obfs4 at (127\.0\.0\.1:\d+)", 10, i)
    socks2 = m.group(1)
    cli.wait_log(r"configured with 1 transport", 10, i)
    assert not pid_alive(p1)
    tunnel_roundtrip(listen, 64 * 1024)  # through the new PT and its SOCKS port
    if socks2 != socks1:  # the old port is gone; the tunnel followed the new one
        with pytest.raises(OSError):
            socket.create_connection(h.split_addr(socks1), timeout=2).close()

    # killed again soon after: the delay doubles
    os.kill(p2, signal.SIGKILL)
    m, j = cli.wait_log(r"PT .* died \(signal 9\); restarting in (\d+) s", 5, i)
    assert m.group(1) == "2", m.group(0)
    t_died = time.monotonic()
    # while it is down, the tunnel refuses (closes) connections instead of hanging
    s = socket.create_connection(listen, timeout=5)
    assert h.wait_closed(s, 1.5) == b""
    s.close()
    m, j = cli.wait_log(r"launched \(pid (\d+)\)", 5, j)
    p3 = int(m.group(1))
    assert p3 not in (p1, p2)
    assert time.monotonic() - t_died > 1.6
    cli.wait_log(r"configured with 1 transport", 10, j)
    tunnel_roundtrip(listen, 64 * 1024)
    assert cli.pt_pids() == [p1, p2, p3]
    stop_clean(cli)
    stop_clean(srv)


def test_server_pt_restart_keeps_serving(hosts, servers, tmp_path):
    echo = servers(h.Server(h.echo_handler))
    port = h.free_port()
    srv, bridge, cert = start_server_host(hosts, tmp_path, "ptkit", echo.addr,
                                          listen=f"127.0.0.1:{port}")
    assert bridge == f"127.0.0.1:{port}"
    cli, listen = start_client_host(hosts, tmp_path, "ptkit", bridge, cert)
    tunnel_roundtrip(listen, 64 * 1024)
    (p1,) = srv.pt_pids()
    os.kill(p1, signal.SIGKILL)
    _, i = srv.wait_log(r"died \(signal 9\); restarting in 1 s", 5)
    m, i = srv.wait_log(r"server transport obfs4 at (127\.0\.0\.1:\d+) ARGS:(\S+)", 10, i)
    assert m.group(1) == bridge and smethod_args(m.group(2))["cert"] == cert
    srv.wait_log(r"configured with 1 transport", 10, i)
    tunnel_roundtrip(listen, 64 * 1024)
    stop_clean(cli)
    stop_clean(srv)


def test_sigterm_while_waiting_to_restart(hosts, tmp_path):
    fake = fake_pt(tmp_path, out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080",
                                 "CMETHODS DONE"))
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin fake exec {fake}", "PTShutdownGrace 1")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    (p1,) = hst.pt_pids()
    os.kill(p1, signal.SIGKILL)
    hst.wait_log(r"died \(signal 9\); restarting in 1 s")
    t0 = time.monotonic()
    assert hst.stop() == 0
    assert time.monotonic() - t0 < 1.0
    time.sleep(0.3)
    assert hst.pt_pids() == [p1], hst.log  # no relaunch after the shutdown began
    assert_gone([p1])


def test_failed_relaunch_ends_the_host(hosts, tmp_path):
    fake = fake_pt(tmp_path, out("VERSION 1", "CMETHOD fake socks5 127.0.0.1:1080",
                                 "CMETHODS DONE"))
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin fake exec {fake}", "PTShutdownGrace 1")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    (p1,) = hst.pt_pids()
    fake.unlink()
    os.kill(p1, signal.SIGKILL)
    assert hst.wait(10) == 1, hst.log
    hst.finish()
    assert "restarting in 1 s" in hst.log
    assert re.search(r"failed the configuration protocol: cannot execute .*fake\.sh: "
                     r"No such file", hst.log), hst.log
    assert "no usable PT is left" in hst.log


# ---- graceful shutdown -------------------------------------------------------------------

STUBBORN = """#!/usr/bin/python3
import os, signal, sys, time
ev = open({events!r}, "a", buffering=1)
def on_term(sig, frame):
    ev.write("term %f\\n" % time.monotonic())
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdout.write("VERSION 1\\nCMETHOD stubborn socks5 127.0.0.1:1\\nCMETHODS DONE\\n")
sys.stdout.flush()
sys.stdin.buffer.read()
ev.write("eof %f\\n" % time.monotonic())
while True:
    time.sleep(0.1)
"""


def stubborn_pt(tmp_path):
    events = tmp_path / "events"
    path = tmp_path / "stubborn.py"
    path.write_text(STUBBORN.format(events=str(events)))
    path.chmod(0o755)
    return path, events


def read_events(events):
    out = []
    for line in events.read_text().splitlines():
        what, t = line.split()
        out.append((what, float(t)))
    return out


def test_graceful_shutdown_stdin_then_sigterm_then_sigkill(hosts, tmp_path):
    stubborn, events = stubborn_pt(tmp_path)
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin plain exec {h.PTKIT} --log-level info",
                      f"ClientTransportPlugin stubborn exec {stubborn}",
                      "PTShutdownGrace 1", "PTConfigTimeout 10")
    hst = hosts(conf)
    hst.wait_log(r"PT ptkit client \(plain\) configured")
    hst.wait_log(r"PT stubborn\.py client \(stubborn\) configured")
    pids = hst.pt_pids()
    assert len(pids) == 2
    assert sorted(h.children_of(hst.pid)) == sorted(pids)
    t0 = time.monotonic()
    hst.proc.send_signal(signal.SIGTERM)
    rc = hst.wait(10)
    took = time.monotonic() - t0
    assert rc == 0, hst.log
    hst.finish()
    assert_gone(pids, 0.5)  # the stubborn one ignores SIGTERM: only our SIGKILL ends it
    ev = read_events(events)
    kinds = [k for k, _ in ev]
    assert kinds == ["eof", "term"], ev  # stdin closed first, SIGTERM a grace period later
    assert ev[0][1] >= t0 - 0.05
    assert 0.8 <= ev[1][1] - ev[0][1] <= 2.0, ev
    assert 1.8 <= took <= 5.0, took  # grace (1 s) to SIGTERM, grace again to SIGKILL
    log = hst.log
    assert "SIGTERM: stopping the PTs" in log
    # ptkit honours TOR_PT_EXIT_ON_STDIN_CLOSE: it left on its own, status 0
    assert re.search(r"PT ptkit client \(plain\) exited \(exit status 0\)", log), log
    assert re.search(r"PT stubborn\.py client \(stubborn\): still running; sending SIGTERM", log)
    assert re.search(r"PT stubborn\.py client \(stubborn\) ignored SIGTERM; killing it", log)
    assert re.search(r"PT stubborn\.py client \(stubborn\) exited \(signal 9\)", log), log
    assert log.index("still running; sending SIGTERM") < log.index("ignored SIGTERM")


def test_second_sigterm_exits_at_once(hosts, tmp_path):
    stubborn, events = stubborn_pt(tmp_path)
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin stubborn exec {stubborn}",
                      "PTShutdownGrace 30")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    pids = hst.pt_pids()
    hst.proc.send_signal(signal.SIGTERM)
    hst.wait_log(r"SIGTERM: stopping the PTs")
    h.wait_for(lambda: events.exists() and "eof" in events.read_text(), 5, "stdin EOF")
    t0 = time.monotonic()
    hst.proc.send_signal(signal.SIGINT)
    rc = hst.wait(5)
    assert rc == 0, hst.log
    assert time.monotonic() - t0 < 2
    hst.finish()
    assert "SIGINT again: exiting now" in hst.log
    assert_gone(pids, 1)  # SIGKILLed on the way out, not left behind


def test_host_killed_takes_its_pts_along(hosts, tmp_path):
    """PR_SET_PDEATHSIG=SIGTERM, as tor: a PT does not outlive a host that died."""
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin plain exec {h.PTKIT}")
    hst = hosts(conf)
    hst.wait_log(r"configured with 1 transport")
    pids = hst.pt_pids()
    hst.proc.kill()
    hst.proc.wait()
    assert_gone(pids, 5)


# ---- Extended ORPort server --------------------------------------------------------------

SERVER_HASH = b"ExtORPort authentication server-to-client hash"
CLIENT_HASH = b"ExtORPort authentication client-to-server hash"


def extor_auth(addr, cookie, wrong=False):
    """SAFE_COOKIE as a PT does it. Returns (sock, status byte)."""
    s = socket.create_connection(addr, timeout=5)
    assert h.recv_exact(s, 2) == b"\x01\x00"  # auth types offered: SAFE_COOKIE, end
    s.sendall(b"\x01")
    cn = os.urandom(32)
    s.sendall(cn)
    got = h.recv_exact(s, 64)
    sh, sn = got[:32], got[32:]
    assert hmac.compare_digest(sh, hmac.new(cookie, SERVER_HASH + cn + sn,
                                            hashlib.sha256).digest())
    ch = hmac.new(cookie, CLIENT_HASH + cn + sn, hashlib.sha256).digest()
    if wrong:
        ch = bytes([ch[0] ^ 1]) + ch[1:]
    s.sendall(ch)
    return s, h.recv_exact(s, 1)


def extor_frame(cmd, body=b""):
    return struct.pack(">HH", cmd, len(body)) + body


def start_extor_host(hosts, servers, tmp_path, name="h", extra=(), echo=None):
    echo = echo or servers(h.Server(h.echo_handler))
    pt, envfile = env_dumper(tmp_path, name, ["VERSION 1", "SMETHOD fake 127.0.0.1:1",
                                              "SMETHODS DONE"])
    conf = write_conf(tmp_path / f"{name}.conf", f"DataDirectory {tmp_path / (name + '-dd')}",
                      "Log info", f"ServerTransportPlugin fake exec {pt}",
                      f"ServerForward {echo.addr[0]}:{echo.addr[1]}", "PTShutdownGrace 1",
                      *extra)
    hst = hosts(conf)
    env = read_env(envfile)
    hst.wait_log(r"configured with 1 transport")
    return hst, env, echo


@pytest.mark.parametrize("safe", [True, False])
def test_extorport_auth_and_forward(hosts, servers, tmp_path, safe):
    hst, env, echo = start_extor_host(hosts, servers, tmp_path,
                                      extra=[] if safe else ["SafeLogging 0"])
    cookie_path = env["TOR_PT_AUTH_COOKIE_FILE"]
    data = open(cookie_path, "rb").read()
    assert len(data) == 64 and data[:32] == h.COOKIE_HEADER
    assert stat.S_IMODE(os.stat(cookie_path).st_mode) == 0o600
    cookie = data[32:]
    ext = h.split_addr(env["TOR_PT_EXTENDED_SERVER_PORT"])

    # a wrong client hash: status 0x00, then the connection is closed
    s, status = extor_auth(ext, cookie, wrong=True)
    assert status == b"\x00"
    assert h.wait_closed(s, 5) == b""
    s.close()
    hst.wait_log(r"Extended ORPort: rejected a connection from (\S+)")

    # an auth type we did not offer: closed
    s = socket.create_connection(ext, timeout=5)
    assert h.recv_exact(s, 2) == b"\x01\x00"
    s.sendall(b"\x02")
    assert h.wait_closed(s, 5) == b""
    s.close()

    # a wrong cookie altogether: the host's ServerHash does not verify
    with pytest.raises(AssertionError):
        extor_auth(ext, os.urandom(32))

    # the right one: OKAY, then the stream reaches ServerForward
    s, status = extor_auth(ext, cookie)
    assert status == b"\x01"
    s.sendall(extor_frame(1, b"203.0.113.9:5678") + extor_frame(2, b"fake") + extor_frame(0))
    assert h.recv_exact(s, 4) == struct.pack(">HH", 0x1000, 0)
    payload = os.urandom(100000)
    got = h.pump_through(s, payload)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    s.close()
    assert echo.conns == 1
    m, _ = hst.wait_log(r"Extended ORPort: accepted transport=fake useraddr=(\S+)")
    log = hst.log
    if safe:
        assert m.group(1) == "[scrubbed]"
        assert "203.0.113.9" not in log
        assert re.search(r"rejected a connection from \[scrubbed\]", log), log
    else:
        assert m.group(1) == "203.0.113.9:5678"
        assert re.search(r"rejected a connection from 127\.0\.0\.1:\d+", log), log
    stop_clean(hst)


def test_extorport_ipv6_useraddr_without_transport(hosts, servers, tmp_path):
    hst, env, echo = start_extor_host(hosts, servers, tmp_path, extra=["SafeLogging 0"])
    cookie = open(env["TOR_PT_AUTH_COOKIE_FILE"], "rb").read()[32:]
    s, status = extor_auth(h.split_addr(env["TOR_PT_EXTENDED_SERVER_PORT"]), cookie)
    assert status == b"\x01"
    s.sendall(extor_frame(1, b"[2001:db8::7]:443") + extor_frame(0))
    assert h.recv_exact(s, 4) == struct.pack(">HH", 0x1000, 0)
    s.sendall(b"ping")
    assert h.recv_exact(s, 4) == b"ping"
    s.close()
    hst.wait_log(r"accepted transport=\(none\) useraddr=\[2001:db8::7\]:443")
    stop_clean(hst)


@pytest.mark.parametrize("frames", [
    [(1, b"203.0.113.9:5678\n2020-01-01 00:00:00 [error] injected")],
    [(1, b"bridge.example:443")],
    [(1, b"203.0.113.9:0")],
    [(1, b"203.0.113.9")],
    [(2, b"not-an-identifier")],
    [(2, b"fake\n[error] injected")],
], ids=["useraddr-newline", "useraddr-name", "useraddr-port0", "useraddr-noport",
        "transport-dash", "transport-newline"])
def test_extorport_rejects_what_tor_rejects(hosts, servers, tmp_path, frames):
    """tor closes the connection on a USERADDR that is not IP:PORT (port != 0) and on a
    TRANSPORT that is not a C identifier; none of it may reach the log raw."""
    hst, env, echo = start_extor_host(hosts, servers, tmp_path, extra=["SafeLogging 0"])
    cookie = open(env["TOR_PT_AUTH_COOKIE_FILE"], "rb").read()[32:]
    s, status = extor_auth(h.split_addr(env["TOR_PT_EXTENDED_SERVER_PORT"]), cookie)
    assert status == b"\x01"
    s.sendall(b"".join(extor_frame(c, b) for c, b in frames) + extor_frame(0))
    got = h.wait_closed(s, 5)
    s.close()
    assert got == b"", got  # no OKAY
    assert echo.conns == 0
    hst.wait_log(r"Extended ORPort: rejected a connection")
    assert "injected" not in hst.log, hst.log
    stop_clean(hst)


def test_shared_cookie_file_is_used_unchanged(hosts, servers, tmp_path):
    shared = tmp_path / "shared_cookie"
    cookie = h.make_cookie(shared)
    before = shared.read_bytes()
    mtime = os.stat(shared).st_mtime_ns
    echo = servers(h.Server(h.echo_handler))
    h1, env1, _ = start_extor_host(hosts, servers, tmp_path, "h1",
                                   [f"ExtORPortCookieAuthFile {shared}"], echo)
    h2, env2, _ = start_extor_host(hosts, servers, tmp_path, "h2",
                                   [f"ExtORPortCookieAuthFile {shared}"], echo)
    assert env1["TOR_PT_AUTH_COOKIE_FILE"] == env2["TOR_PT_AUTH_COOKIE_FILE"] == str(shared)
    assert env1["TOR_PT_EXTENDED_SERVER_PORT"] != env2["TOR_PT_EXTENDED_SERVER_PORT"]
    for env in (env1, env2):
        s, status = extor_auth(h.split_addr(env["TOR_PT_EXTENDED_SERVER_PORT"]), cookie)
        assert status == b"\x01"
        s.sendall(extor_frame(0))
        assert h.recv_exact(s, 4) == struct.pack(">HH", 0x1000, 0)
        s.sendall(b"hi")
        assert h.recv_exact(s, 2) == b"hi"
        s.close()
    assert shared.read_bytes() == before and os.stat(shared).st_mtime_ns == mtime
    assert not (tmp_path / "h1-dd" / "extended_orport_auth_cookie").exists()
    stop_clean(h1)
    stop_clean(h2)
    assert shared.read_bytes() == before


def test_cookie_auth_file_created_when_missing(hosts, servers, tmp_path):
    path = tmp_path / "new_cookie"
    hst, env, _ = start_extor_host(hosts, servers, tmp_path, extra=[f"ExtORPortCookieAuthFile {path}"])
    assert env["TOR_PT_AUTH_COOKIE_FILE"] == str(path)
    data = path.read_bytes()
    assert len(data) == 64 and data[:32] == h.COOKIE_HEADER
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stop_clean(hst)


def test_cookie_rewritten_at_each_start(hosts, servers, tmp_path):
    """As tor: a fresh cookie in the DataDirectory every time (unless a fixed file is given)."""
    echo = servers(h.Server(h.echo_handler))
    hst, env, _ = start_extor_host(hosts, servers, tmp_path, echo=echo)
    first = open(env["TOR_PT_AUTH_COOKIE_FILE"], "rb").read()
    stop_clean(hst)
    (tmp_path / "h.env.json").unlink()
    hst, env, _ = start_extor_host(hosts, servers, tmp_path, echo=echo)
    second = open(env["TOR_PT_AUTH_COOKIE_FILE"], "rb").read()
    assert first[:32] == second[:32] == h.COOKIE_HEADER and first[32:] != second[32:]
    with pytest.raises(AssertionError):  # the old cookie no longer authenticates
        extor_auth(h.split_addr(env["TOR_PT_EXTENDED_SERVER_PORT"]), first[32:])
    stop_clean(hst)


def test_bad_cookie_auth_file_is_an_error(hosts, servers, tmp_path):
    path = tmp_path / "bad_cookie"
    path.write_bytes(b"not a cookie file at all" * 3)
    echo = servers(h.Server(h.echo_handler))
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}",
                      f"ServerTransportPlugin fake exec {tmp_path / 'never-run'}",
                      f"ServerForward {echo.addr[0]}:{echo.addr[1]}",
                      f"ExtORPortCookieAuthFile {path}")
    hst = hosts(conf)
    assert hst.wait(10) == 1, hst.log
    hst.finish()
    assert re.search(r"^ptkit host: " + re.escape(str(path)) + ": ", hst.log, re.M), hst.log
    assert path.read_bytes() == b"not a cookie file at all" * 3
    assert not hst.pt_pids()


def test_plain_orport_mode(hosts, servers, tmp_path):
    hst, env, echo = start_extor_host(hosts, servers, tmp_path, extra=["ExtORPort 0"])
    assert env["TOR_PT_EXTENDED_SERVER_PORT"] == ""
    assert "TOR_PT_AUTH_COOKIE_FILE" not in env
    assert not (tmp_path / "h-dd" / "extended_orport_auth_cookie").exists()
    s = socket.create_connection(h.split_addr(env["TOR_PT_ORPORT"]), timeout=5)
    payload = os.urandom(50000)
    got = h.pump_through(s, payload)
    s.close()
    assert got == payload
    assert echo.conns == 1
    stop_clean(hst)


def test_orport_also_served_with_extorport(hosts, servers, tmp_path):
    """tor gives TOR_PT_ORPORT always; with an Extended ORPort both lead to ServerForward."""
    hst, env, echo = start_extor_host(hosts, servers, tmp_path)
    s = socket.create_connection(h.split_addr(env["TOR_PT_ORPORT"]), timeout=5)
    s.sendall(b"plain")
    assert h.recv_exact(s, 5) == b"plain"
    s.close()
    stop_clean(hst)


# ---- ClientListen through an external SOCKS proxy: bridge args as tor sends them ---------

@pytest.mark.parametrize("kind,value_len", [("socks5", 20), ("socks5", 300), ("socks5", None),
                                            ("socks4", 20)])
def test_external_proxy_gets_bridge_args_as_tor_sends_them(hosts, servers, tmp_path, kind,
                                                           value_len):
    echo = servers(h.Server(h.echo_handler))
    pairs = [] if value_len is None else [("cert", "ab;c\\d" + "x" * value_len),
                                          ("iat-mode", "0")]
    enc = h.encode_args(pairs)
    if kind == "socks5" and pairs:
        # tor: all of it in the username and a 1-byte NUL password, or split at 255
        user, pw = (enc, "\x00") if len(enc) <= 255 else (enc[:255], enc[255:])
        stub = servers(h.ProxyStub("socks5", user=user, password=pw))
    else:
        stub = servers(h.ProxyStub("socks5" if kind == "socks5" else "socks4a"))
    listen = ("127.0.0.1", h.free_port())
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}", "Log info",
                      f"ClientTransportPlugin ext {kind} {stub.addr[0]}:{stub.addr[1]}",
                      f"Bridge ext {echo.addr[0]}:{echo.addr[1]} "
                      + " ".join(f"{k}={v}" for k, v in pairs),
                      f"ClientListen {listen[0]}:{listen[1]} 1")
    hst = hosts(conf)
    hst.wait_log(r"tunnel 127\.0\.0\.1:\d+ -> ext bridge at line 4")
    tunnel_roundtrip(listen, 100000)
    (req,) = stub.requests
    assert req["status"] == "ok", req
    assert (req["host"], req["port"]) == echo.addr
    assert req["atyp"] == 1  # an IPv4 literal, never a name
    if kind == "socks4":
        assert req["version"] == 4 and req["userid"] == enc.encode()
    elif pairs:
        assert 2 in req["methods"] and (req["user"], req["password"]) == (user, pw)
    else:
        assert req["user"] is None and 0 in req["methods"]
    assert hst.stop() == 0
    assert not hst.pt_pids()


# ---- configuration errors ----------------------------------------------------------------

@pytest.mark.parametrize("lines,line,frag", [
    (["Bogus 1"], 2, 'unknown option "Bogus"'),
    (["Bridge obfs4 bridge.example:443"], 2, "bridge address"),
    (["", "# c", "ClientTransportPlugin obfs4 exec \\", "  relative/obfs4proxy"], 4,
     "absolute path"),
    (["Socks5Proxy 127.0.0.1:9", "Socks5ProxyUsername u"], 3, "Socks5ProxyPassword"),
    (["Bridge obfs4 \"1.2.3.4:443"], 2, "quoted"),
    (["ClientListen 127.0.0.1:1 1"], 2, "no Bridge line matches"),
    (["PTShutdownGrace 0"], 2, "PTShutdownGrace"),
])
def test_config_error_exits_2(hosts, tmp_path, lines, line, frag):
    conf = write_conf(tmp_path / "bad.conf", f"DataDirectory {tmp_path / 'dd'}", *lines)
    rc, out_, err = h.run_ptkit(["host", "-f", str(conf)])
    assert rc == 2, err
    first = err.splitlines()[0]
    assert first.startswith(f"ptkit host: {conf}:{line}: "), err
    assert frag in first, err
    assert not (tmp_path / "dd").exists()  # nothing was started or created


@pytest.mark.parametrize("argv,frag", [
    (["host"], "-f CONFIG is required"),
    (["host", "-f", "/nonexistent/ptkit.conf"], "/nonexistent/ptkit.conf: no such file"),
    (["host", "-f", "x", "--bogus"], 'unknown option "--bogus"'),
    (["host", "-f", "x", "--log-level", "loud"], 'unknown log level "loud"'),
])
def test_command_line_errors_exit_2(argv, frag):
    rc, out_, err = h.run_ptkit(argv)
    assert rc == 2, err
    assert frag in err, err


def test_no_plugins_exits_2(tmp_path):
    conf = write_conf(tmp_path / "h.conf", f"DataDirectory {tmp_path / 'dd'}")
    rc, out_, err = h.run_ptkit(["host", "-f", str(conf)])
    assert rc == 2, err
    assert "no ClientTransportPlugin or ServerTransportPlugin" in err


def test_help(tmp_path):
    rc, out_, err = h.run_ptkit(["host", "--help"])
    assert rc == 0 and "usage: ptkit host -f CONFIG" in out_
