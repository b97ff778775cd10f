"""ptkit driven as tor drives it (pt-spec 3.2/3.3, reference/tor-side.md):
the TOR_PT_* environment, and exactly what comes out on stdout.

Every failure case checks the whole of stdout (one ENV-ERROR / VERSION-ERROR /
PROXY-ERROR line, nothing else) and the exit status.
"""
import os
import re
import socket
import stat

import pytest

import ptkit_harness as h

CMETHOD_RE = re.compile(r"^CMETHOD plain socks5 127\.0\.0\.1:([0-9]+)$")
CONFIG_PREFIXES = ("VERSION", "ENV-ERROR", "VERSION-ERROR", "CMETHOD", "SMETHOD", "PROXY")


def env_client(tmp_path, **extra):
    return h.client_env(tmp_path / "state", **extra)


def env_server(tmp_path, **extra):
    extra.setdefault("orport", "127.0.0.1:%d" % h.free_port())
    return h.server_env(tmp_path / "state", **extra)


def run_to_exit(pts, env, timeout=5.0):
    """Start a PT that must exit by itself; returns (all stdout lines, exit status)."""
    pt = pts(env)
    lines = pt.rest(timeout)
    rc = pt.wait(timeout)
    assert rc is not None, f"PT did not exit; stdout so far {lines!r}"
    return lines, rc


def assert_env_error(lines, rc, *names):
    assert rc == 1, (rc, lines)
    assert len(lines) == 1, f"want exactly one ENV-ERROR line, got {lines!r}"
    assert lines[0].startswith("ENV-ERROR "), lines
    assert len(lines[0]) > len("ENV-ERROR "), lines
    for n in names:
        assert n in lines[0], f"ENV-ERROR does not name {n}: {lines[0]!r}"


def can_connect(addr, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- VERSION negotiation ---------------------------------------------------------

@pytest.mark.parametrize("ver", ["1", "2,1", "1,2", "3,2,1"])
def test_version_accepted(pts, tmp_path, ver):
    env = env_client(tmp_path, TOR_PT_MANAGED_TRANSPORT_VER=ver)
    pt = pts(env)
    lines, methods = pt.config()
    assert lines[0] == "VERSION 1"
    assert lines[-1] == "CMETHODS DONE"
    assert "plain" in methods


@pytest.mark.parametrize("ver", ["2", "2,3", "11", "1.0", " 1"])
def test_version_error(pts, tmp_path, ver):
    env = env_client(tmp_path, TOR_PT_MANAGED_TRANSPORT_VER=ver)
    lines, rc = run_to_exit(pts, env)
    assert lines == ["VERSION-ERROR no-version"]
    assert rc == 1


# ---- required variables ----------------------------------------------------------

@pytest.mark.parametrize("role,var,names", [
    ("client", "TOR_PT_MANAGED_TRANSPORT_VER", ["TOR_PT_MANAGED_TRANSPORT_VER"]),
    ("client", "TOR_PT_STATE_LOCATION", ["TOR_PT_STATE_LOCATION"]),
    ("client", "TOR_PT_CLIENT_TRANSPORTS", ["TOR_PT_CLIENT_TRANSPORTS"]),
    ("server", "TOR_PT_SERVER_TRANSPORTS", ["TOR_PT_SERVER_TRANSPORTS"]),
    ("server", "TOR_PT_SERVER_BINDADDR", ["TOR_PT_SERVER_BINDADDR"]),
    ("server", "TOR_PT_ORPORT", ["TOR_PT_ORPORT"]),
])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_missing_variable(pts, tmp_path, role, var, names, how):
    env = env_client(tmp_path) if role == "client" else env_server(tmp_path)
    if how == "unset":
        del env[var]
    else:
        env[var] = ""
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, *names)


# ---- malformed values ---------------------------------------------------------------

MALFORMED = [
    # transport names must be C identifiers
    ("client", "TOR_PT_CLIENT_TRANSPORTS", "pl-ain"),
    ("client", "TOR_PT_CLIENT_TRANSPORTS", "plain,9lives"),
    ("client", "TOR_PT_CLIENT_TRANSPORTS", "plain,,obfs4"),
    ("client", "TOR_PT_CLIENT_TRANSPORTS", "plain obfs4"),
    ("server", "TOR_PT_SERVER_TRANSPORTS", "plain;obfs4"),
    ("server", "TOR_PT_SERVER_TRANSPORTS", "pl.ain"),
    # bind addresses: name-addr:port, literal IP, IPv6 in brackets
    ("server", "TOR_PT_SERVER_BINDADDR", "plain127.0.0.1:0"),
    ("server", "TOR_PT_SERVER_BINDADDR", "plain-::1:0"),
    ("server", "TOR_PT_SERVER_BINDADDR", "plain-127.0.0.1"),
    ("server", "TOR_PT_SERVER_BINDADDR", "plain-127.0.0.1:65536"),
    ("server", "TOR_PT_SERVER_BINDADDR", "plain-localhost:0"),
    ("server", "TOR_PT_SERVER_BINDADDR", "pl+ain-127.0.0.1:0"),
    # ORPort / Extended ORPort: literal IP and a non-zero port
    ("server", "TOR_PT_ORPORT", "localhost:9001"),
    ("server", "TOR_PT_ORPORT", "::1:9001"),
    ("server", "TOR_PT_ORPORT", "127.0.0.1"),
    ("server", "TOR_PT_ORPORT", "127.0.0.1:0"),
    ("server", "TOR_PT_EXTENDED_SERVER_PORT", "localhost:9002"),
    ("server", "TOR_PT_EXTENDED_SERVER_PORT", "::1:9002"),
    # a flag is 0 or 1
    ("client", "TOR_PT_EXIT_ON_STDIN_CLOSE", "yes"),
    ("client", "TOR_PT_EXIT_ON_STDIN_CLOSE", "2"),
    ("client", "TOR_PT_EXIT_ON_STDIN_CLOSE", "true"),
    # transport options: transport:k=v;..., escapes must be complete
    ("server", "TOR_PT_SERVER_TRANSPORT_OPTIONS", "plain:secret=abc\\"),
    ("server", "TOR_PT_SERVER_TRANSPORT_OPTIONS", "secret=abc"),
    ("server", "TOR_PT_SERVER_TRANSPORT_OPTIONS", "plain:secret"),
    ("server", "TOR_PT_SERVER_TRANSPORT_OPTIONS", "plain:=abc"),
    # outbound bind addresses: IPv4 without brackets, IPv6 in brackets, no port
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "[::1]"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "1.2.3"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "localhost"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "127.0.0.1:80"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "127.0.0.1"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "[::1]:80"),
    ("client", "TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "[zz::1]"),
]


@pytest.mark.parametrize("role,var,value", MALFORMED)
def test_malformed_variable(pts, tmp_path, role, var, value):
    env = env_client(tmp_path) if role == "client" else env_server(tmp_path)
    if var == "TOR_PT_EXTENDED_SERVER_PORT":
        env["TOR_PT_AUTH_COOKIE_FILE"] = str(tmp_path / "cookie")
        h.make_cookie(tmp_path / "cookie")
    env[var] = value
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, var)


def test_extorport_without_cookie(pts, tmp_path):
    env = env_server(tmp_path, extorport="127.0.0.1:%d" % h.free_port())
    assert "TOR_PT_AUTH_COOKIE_FILE" not in env
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, "TOR_PT_AUTH_COOKIE_FILE")


def test_env_error_message_is_one_clean_line(pts, tmp_path):
    # A value with a control character must not break the line (or forge another one).
    env = env_client(tmp_path, TOR_PT_CLIENT_TRANSPORTS="pl\x1bain\rCMETHOD x socks5 1.2.3.4:5")
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, "TOR_PT_CLIENT_TRANSPORTS")
    assert "\r" not in lines[0] and "\x1b" not in lines[0]


# ---- the state location ---------------------------------------------------------------

@pytest.mark.parametrize("rel", ["a/b/pt_state/", "a/b/pt_state", "pt_state//"])
def test_state_location_created_0700(pts, tmp_path, rel):
    loc = str(tmp_path / "data") + "/" + rel
    env = env_client(tmp_path, TOR_PT_STATE_LOCATION=loc)
    old = os.umask(0o022)
    try:
        pt = pts(env)
    finally:
        os.umask(old)
    lines, _ = pt.config()
    assert lines[0] == "VERSION 1"
    path = loc.rstrip("/")
    st = os.stat(path)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)


def test_state_location_existing_dir_kept(pts, tmp_path):
    loc = tmp_path / "pt_state"
    loc.mkdir(mode=0o700)
    (loc / "keep").write_text("x")
    pt = pts(env_client(tmp_path, TOR_PT_STATE_LOCATION=str(loc) + "/"))
    lines, _ = pt.config()
    assert lines[0] == "VERSION 1"
    assert (loc / "keep").read_text() == "x"


@pytest.mark.parametrize("trailing", ["", "/"])
def test_state_location_is_a_file(pts, tmp_path, trailing):
    f = tmp_path / "not_a_dir"
    f.write_text("x")
    env = env_client(tmp_path, TOR_PT_STATE_LOCATION=str(f) + trailing)
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, "TOR_PT_STATE_LOCATION")
    assert f.read_text() == "x"


def test_state_location_parent_is_a_file(pts, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    env = env_client(tmp_path, TOR_PT_STATE_LOCATION=str(f) + "/sub/")
    lines, rc = run_to_exit(pts, env)
    assert_env_error(lines, rc, "TOR_PT_STATE_LOCATION")


# ---- client methods ----------------------------------------------------------------------

def test_cmethod_line(pts, tmp_path):
    pt = pts(env_client(tmp_path))
    lines, _ = pt.config()
    assert len(lines) == 3, lines
    assert lines[0] == "VERSION 1"
    m = CMETHOD_RE.match(lines[1])
    assert m, lines[1]
    port = int(m.group(1))
    assert 0 < port < 65536
    assert lines[2] == "CMETHODS DONE"
    # it is a SOCKS5 listener
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x05\x01\x00")
    assert h.recv_exact(s, 2) == b"\x05\x00"
    s.close()


def test_unknown_client_transports_skipped(pts, tmp_path):
    pt = pts(env_client(tmp_path, transports="foo,plain,bar_baz"))
    lines, methods = pt.config()
    assert lines[0] == "VERSION 1"
    assert lines[-1] == "CMETHODS DONE"
    assert list(methods) == ["plain"]
    assert not [l for l in lines if l.startswith("CMETHOD-ERROR")], lines
    assert len([l for l in lines if l.startswith("CMETHOD ")]) == 1
    assert all(l.startswith("LOG ") for l in lines[1:-1] if not l.startswith("CMETHOD ")), lines


def test_only_unknown_client_transports(pts, tmp_path):
    pt = pts(env_client(tmp_path, transports="foo,bar"))
    lines = pt.rest(5)
    assert lines[0] == "VERSION 1"
    assert "CMETHODS DONE" in lines
    assert not [l for l in lines if l.startswith("CMETHOD")
                and l != "CMETHODS DONE"], lines


def test_star_yields_plain(pts, tmp_path):
    pt = pts(env_client(tmp_path, transports="*"))
    lines, methods = pt.config()
    assert "plain" in methods
    assert CMETHOD_RE.match([l for l in lines if l.startswith("CMETHOD plain")][0])
    host, port, _ = methods["plain"]
    assert can_connect((host, port))


def test_transport_listed_twice_gets_one_method(pts, tmp_path):
    pt = pts(env_client(tmp_path, transports="plain,*,plain"))
    lines, methods = pt.config()
    assert len([l for l in lines if l.startswith("CMETHOD plain ")]) == 1, lines
    names = [l.split(" ")[1] for l in lines if l.startswith("CMETHOD ")]
    assert len(names) == len(set(names)), lines


# ---- server methods ------------------------------------------------------------------------

def test_smethod_at_requested_address(pts, tmp_path):
    port = h.free_port()
    pt = pts(env_server(tmp_path, bindaddr="plain-127.0.0.1:%d" % port))
    lines, _ = pt.config()
    assert lines == ["VERSION 1", "SMETHOD plain 127.0.0.1:%d" % port, "SMETHODS DONE"]
    assert can_connect(("127.0.0.1", port))


def test_smethod_port_zero_reports_real_port(pts, tmp_path):
    pt = pts(env_server(tmp_path, bindaddr="plain-127.0.0.1:0"))
    lines, methods = pt.config()
    assert len(lines) == 3 and lines[2] == "SMETHODS DONE", lines
    m = re.match(r"^SMETHOD plain 127\.0\.0\.1:([0-9]+)$", lines[1])
    assert m, lines[1]
    port = int(m.group(1))
    assert port != 0
    assert can_connect(("127.0.0.1", port))


def test_smethod_ipv6(pts, tmp_path):
    pt = pts(env_server(tmp_path, bindaddr="plain-[::1]:0"))
    lines, _ = pt.config()
    m = re.match(r"^SMETHOD plain \[::1\]:([0-9]+)$", lines[1])
    assert m, lines
    port = int(m.group(1))
    assert port != 0
    assert can_connect(("::1", port), socket.AF_INET6)
    assert lines[2] == "SMETHODS DONE"


def test_unknown_server_transport_skipped(pts, tmp_path):
    pt = pts(env_server(tmp_path, transports="foo,plain",
                        bindaddr="foo-127.0.0.1:0,plain-127.0.0.1:0"))
    lines, methods = pt.config()
    assert list(methods) == ["plain"]
    assert not [l for l in lines if l.startswith("SMETHOD-ERROR")], lines
    assert lines[-1] == "SMETHODS DONE"


def test_busy_port_smethod_error_client_still_works(pts, tmp_path, servers):
    """The same process asked for a client and a server transport; the server's
    port is taken: SMETHOD-ERROR for it, the client method still serves."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        env = env_server(tmp_path, bindaddr="plain-127.0.0.1:%d" % port)
        env["TOR_PT_CLIENT_TRANSPORTS"] = "plain"
        pt = pts(env)
        lines = pt.read_until(lambda l: l == "SMETHODS DONE")
        errs = [l for l in lines if l.startswith("SMETHOD-ERROR ")]
        assert len(errs) == 1 and errs[0].startswith("SMETHOD-ERROR plain "), lines
        assert not [l for l in lines if l.startswith("SMETHOD ")], lines
        cm = [l for l in lines if l.startswith("CMETHOD ")]
        assert len(cm) == 1 and CMETHOD_RE.match(cm[0]), lines
        assert lines.index("CMETHODS DONE") < lines.index("SMETHODS DONE")
        echo = servers(h.Server(h.echo_handler))
        s, rep = h.socks5_connect(("127.0.0.1", int(CMETHOD_RE.match(cm[0]).group(1))),
                                  *echo.addr)
        assert rep == 0
        assert h.echo_roundtrip(s)
        s.close()
    finally:
        busy.close()


def _server_transports():
    rc, out, _ = h.run_ptkit(["version"])
    assert rc == 0
    line = [l for l in out.splitlines() if l.startswith("transports:")][0]
    names = line.split(":", 1)[1].replace("(client only)", "").split()
    return [n for n in names if "(" not in n]


def test_busy_port_second_transport(pts, tmp_path):
    """Two server transports, the second one's port busy: SMETHOD-ERROR for it,
    the first one still listens."""
    others = [n for n in _server_transports() if n != "plain"]
    if not others:
        pytest.skip("only one server transport is built in (plain)")
    other = others[0]
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        pt = pts(env_server(tmp_path, transports="plain,%s" % other,
                            bindaddr="plain-127.0.0.1:0,%s-127.0.0.1:%d" % (other, port)))
        lines, methods = pt.config()
        assert [l for l in lines if l.startswith("SMETHOD-ERROR %s " % other)], lines
        assert list(methods) == ["plain"]
        assert can_connect(methods["plain"][:2])
    finally:
        busy.close()


# ---- TOR_PT_PROXY ------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["socks5", "socks4a", "http"])
def test_proxy_done_order(pts, tmp_path, scheme):
    env = env_client(tmp_path, transports="foo,plain",
                     TOR_PT_PROXY="%s://127.0.0.1:%d" % (scheme, h.free_port()))
    pt = pts(env)
    lines, _ = pt.config()
    cfg = [l for l in lines if not l.startswith("LOG ")]
    assert cfg[0] == "VERSION 1"
    assert cfg[1] == "PROXY DONE", lines
    assert cfg.count("PROXY DONE") == 1
    assert cfg[-1] == "CMETHODS DONE"
    assert CMETHOD_RE.match(cfg[2]), lines


def test_proxy_with_credentials_accepted(pts, tmp_path):
    env = env_client(tmp_path, TOR_PT_PROXY="socks5://us:er:p@ss@127.0.0.1:%d" % h.free_port())
    pt = pts(env)
    lines, _ = pt.config()
    assert [l for l in lines if not l.startswith("LOG ")][:2] == ["VERSION 1", "PROXY DONE"]


@pytest.mark.parametrize("value", [
    "ftp://127.0.0.1:21",
    "socks4://127.0.0.1:1080",
    "https://127.0.0.1:8080",
    "socks5://proxy.example.com:1080",
    "http://localhost:8080",
    "socks5://127.0.0.1",
    "127.0.0.1:1080",
    "socks4a://user:pw@127.0.0.1:1080",
])
def test_proxy_error(pts, tmp_path, value):
    lines, rc = run_to_exit(pts, env_client(tmp_path, TOR_PT_PROXY=value))
    assert rc == 1
    assert len(lines) == 2, lines
    assert lines[0] == "VERSION 1"
    assert lines[1].startswith("PROXY-ERROR "), lines
    assert len(lines[1]) > len("PROXY-ERROR ")


# ---- what follows the configuration ------------------------------------------------------------

LOG_RE = re.compile(r'^LOG SEVERITY=(error|warning|notice|info|debug) MESSAGE="(?:[^"\\\x00-\x1f\x7f]'
                    r'|\\(?:[nrt"\\\']|[0-3][0-7]{2}|x[0-9a-fA-F]{2}))*"$')


def _only_log_and_status_after_done(lines, done):
    i = lines.index(done)
    for l in lines[i + 1:]:
        assert l.startswith("LOG ") or l.startswith("STATUS "), \
            f"line after {done} that tor would take as configuration: {l!r}"
        assert not l.startswith(CONFIG_PREFIXES)
    for l in lines:
        if l.startswith("LOG"):
            assert LOG_RE.match(l), f"malformed LOG line {l!r}"
            h.parse_log_line(l)


def test_lines_after_done_client(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt = pts(env_client(tmp_path, transports="plain,unknown_one"), ["--log-level", "debug"])
    lines, methods = pt.config()
    socks = methods["plain"][:2]
    # traffic, a refused target, a bad request with quotes and backslashes in it
    s, rep = h.socks5_connect(socks, *echo.addr, args=[("k", 'a"b\\c')])
    assert rep == 0 and h.echo_roundtrip(s)
    s.close()
    s, rep = h.socks5_connect(socks, "127.0.0.1", h.free_port())
    assert rep == 5
    s.close()
    s = h.socks5_raw(socks, b"GET / HTTP/1.0\r\n\r\n")
    h.wait_closed(s)
    s.close()
    pt.proc.send_signal(15)
    assert pt.wait(5) == 0
    pt.rest(3)
    lines = list(pt.lines)
    _only_log_and_status_after_done(lines, "CMETHODS DONE")
    assert len(lines) > lines.index("CMETHODS DONE") + 3, "expected debug LOG lines"


def test_lines_after_done_server(pts, tmp_path, servers):
    echo = servers(h.Server(h.echo_handler))
    pt = pts(env_server(tmp_path, orport="%s:%d" % echo.addr), ["--log-level", "debug"])
    lines, methods = pt.config()
    c = socket.create_connection(methods["plain"][:2], timeout=5)
    assert h.echo_roundtrip(c)
    c.close()
    pt.proc.send_signal(15)
    assert pt.wait(5) == 0
    pt.rest(3)
    lines = list(pt.lines)
    _only_log_and_status_after_done(lines, "SMETHODS DONE")


def test_log_line_format_and_quoting(pts, tmp_path):
    # The skip notice names the transport in double quotes: those must be escaped.
    pt = pts(env_client(tmp_path, transports="no_such_one,plain"))
    lines, _ = pt.config()
    logs = [l for l in lines if l.startswith("LOG ")]
    assert logs, lines
    for l in logs:
        assert LOG_RE.match(l), l
    msgs = h.log_messages(lines)
    assert any('"no_such_one"' in m for m in msgs), msgs


# ---- command-line options in managed mode -----------------------------------------------------

def test_log_file_unwritable(pts, tmp_path):
    bad = str(tmp_path / "no" / "such" / "dir" / "ptkit.log")
    pt = pts(env_client(tmp_path), ["--log-file", bad])
    lines = pt.rest(5)
    assert pt.wait(5) == 1
    assert len(lines) == 1 and lines[0].startswith("ENV-ERROR "), lines
    assert bad in lines[0], lines


def test_log_file_gets_the_log(pts, tmp_path, servers):
    log = tmp_path / "ptkit.log"
    pt = pts(env_client(tmp_path), ["--log-file", str(log), "--log-level", "info"])
    lines, methods = pt.config()
    s = h.socks5_raw(methods["plain"][:2], b"\x07garbage")
    h.wait_closed(s)
    s.close()
    pt.wait_line(lambda l: "bad SOCKS request" in l)  # still reported to tor
    h.wait_for(lambda: log.exists() and "bad SOCKS request" in log.read_text(), 3, "the log file")
    assert "bad SOCKS request" not in pt.stderr
    assert stat.S_IMODE(os.stat(log).st_mode) & 0o077 == 0


def test_log_level_filters_log_lines(pts, tmp_path):
    pt = pts(env_client(tmp_path, transports="nope,plain"), ["--log-level", "warning"])
    lines, _ = pt.config()
    assert not [l for l in lines if l.startswith("LOG ")], lines
    pt.proc.send_signal(15)
    assert pt.wait(5) == 0
    assert pt.rest(2) == []


def test_unknown_option(tmp_path):
    env = env_client(tmp_path)
    rc, out, err = h.run_ptkit(["--no-such-option"], env=env)
    assert rc == 2
    assert out == ""
    assert "--no-such-option" in err


def test_server_transport_without_bind_address(pts, tmp_path):
    pt = pts(env_server(tmp_path, transports="plain", bindaddr="other-127.0.0.1:0"))
    lines = pt.read_until(lambda l: l == "SMETHODS DONE")
    assert lines[0] == "VERSION 1"
    assert [l for l in lines if l.startswith("SMETHOD-ERROR plain ")], lines
    assert not [l for l in lines if l.startswith("SMETHOD ")], lines
