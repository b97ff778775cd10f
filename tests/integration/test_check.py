"""`ptkit check`: the conformance suite against ptkit itself (both roles must
pass every MUST case), against Debian's obfs4proxy, and against small fake
PTs, each broken in one way, that must fail exactly the case family they
break, with a detail that says why. Also: --json matches the table, every
PT is reaped, and bad invocations exit 2.

The fake PT (FAKE_PT below) is a working managed PT for the plain transport
in both roles (SOCKS5 with arguments, TOR_PT_PROXY socks5, Extended ORPort
with SAFE_COOKIE) written in Python; BUG selects one deliberate fault.
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

import ptkit_harness as h

CASES = os.path.join(os.path.dirname(__file__), "..", "conformance")

FAKE_PT = r'''#!/usr/bin/python3
import hashlib, hmac, os, signal, socket, struct, sys, threading, time
BUG = "@BUG@"
env = os.environ

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def addr(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(s)
    return host.strip("[]"), int(port)

def recvn(c, n):
    d = b""
    while len(d) < n:
        k = c.recv(n - len(d))
        if not k:
            raise EOFError
        d += k
    return d

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def relay(a, b):
    threading.Thread(target=pipe, args=(a, b), daemon=True).start()
    pipe(b, a)

def dial(host, port):
    proxy = env.get("TOR_PT_PROXY")
    if not proxy or BUG == "proxy-bypass":
        return socket.create_connection((host, port), timeout=5)
    p = socket.create_connection(addr(proxy.split("://", 1)[1]), timeout=5)
    p.sendall(b"\x05\x01\x00")
    if recvn(p, 2) != b"\x05\x00":
        raise OSError("proxy")
    p.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    rep = recvn(p, 10)
    if rep[1] != 0:
        raise OSError("proxy refused")
    return p

def socks(c):
    ver, n = recvn(c, 2)
    methods = recvn(c, n)
    if BUG == "socks-replies":
        c.sendall(b"\x05\x00")
    elif 2 in methods:
        c.sendall(b"\x05\x02")
        recvn(c, 1)
        u = recvn(c, recvn(c, 1)[0])
        p = recvn(c, recvn(c, 1)[0])
        c.sendall(b"\x01\x00")
    elif 0 in methods:
        c.sendall(b"\x05\x00")
    else:
        c.sendall(b"\x05\xff")
        return
    v, cmd, _, atyp = recvn(c, 4)
    if atyp == 1:
        host = socket.inet_ntoa(recvn(c, 4))
    elif atyp == 3:
        host = recvn(c, recvn(c, 1)[0]).decode()
    elif BUG == "socks-replies":
        recvn(c, 6)
        c.sendall(b"\x05\x00\x00\x01" + bytes(6))
        return
    else:
        c.sendall(b"\x05\x08\x00\x01" + bytes(6))
        return
    port = struct.unpack(">H", recvn(c, 2))[0]
    if cmd != 1 and BUG != "socks-replies":
        c.sendall(b"\x05\x07\x00\x01" + bytes(6))
        return
    try:
        t = dial(host, port)
    except OSError:
        c.sendall(b"\x05\x05\x00\x01" + bytes(6))
        return
    c.sendall(b"\x05\x00\x00\x01" + bytes(6))
    relay(c, t)

def extor(c, peer):
    ext = env.get("TOR_PT_EXTENDED_SERVER_PORT")
    if not ext:
        relay(c, socket.create_connection(addr(env["TOR_PT_ORPORT"]), timeout=5))
        return
    with open(env["TOR_PT_AUTH_COOKIE_FILE"], "rb") as f:
        cookie = f.read()[32:]
    t = socket.create_connection(addr(ext), timeout=5)
    while recvn(t, 1) != b"\x00":
        pass
    cn = os.urandom(32)
    t.sendall(b"\x01" + cn)
    sh, sn = recvn(t, 32), recvn(t, 32)
    key = cookie if BUG != "extor-auth" else bytes(32)
    ch = hmac.new(key, b"ExtORPort authentication client-to-server hash" + cn + sn,
                  hashlib.sha256).digest()
    t.sendall(ch)
    if recvn(t, 1) != b"\x01":
        return
    ua = ("%s:%d" % peer).encode() if BUG != "useraddr" else b"localhost"
    for cmd, body in ((1, ua), (2, b"plain"), (0, b"")):
        t.sendall(struct.pack(">HH", cmd, len(body)) + body)
    if BUG == "early-data":
        d = c.recv(65536)
        t.sendall(d)
    if recvn(t, 4)[:2] != b"\x10\x00":
        return
    relay(c, t)

def serve(ls, handler):
    while True:
        c, peer = ls.accept()
        threading.Thread(target=lambda: handler(c, peer) if handler is extor else handler(c),
                         daemon=True).start()

def main():
    if BUG == "sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    vers = env.get("TOR_PT_MANAGED_TRANSPORT_VER", "")
    if "1" not in vers.split(",") and BUG not in ("version", "version-error-hangs"):
        out("VERSION-ERROR no-version")
        sys.exit(1)
    if BUG == "version-error-hangs" and "1" not in vers.split(","):
        out("VERSION-ERROR no-version")
        while True:
            time.sleep(1)
    state = env.get("TOR_PT_STATE_LOCATION")
    if not state:
        if BUG == "env-silent":
            sys.exit(1)
        out("ENV-ERROR no TOR_PT_STATE_LOCATION")
        sys.exit(1)
    client, server = env.get("TOR_PT_CLIENT_TRANSPORTS"), env.get("TOR_PT_SERVER_TRANSPORTS")
    if not client and not server:
        out("ENV-ERROR no transports")
        sys.exit(1)
    bind = {}
    if server:
        try:
            for item in env.get("TOR_PT_SERVER_BINDADDR", "").split(","):
                if item:
                    name, _, a = item.partition("-")
                    bind[name] = addr(a)
            if env.get("TOR_PT_EXTENDED_SERVER_PORT"):
                addr(env["TOR_PT_EXTENDED_SERVER_PORT"])
                if not env.get("TOR_PT_AUTH_COOKIE_FILE"):
                    raise ValueError("no cookie")
            else:
                addr(env.get("TOR_PT_ORPORT", ""))
        except ValueError as e:
            out("ENV-ERROR bad address: %s" % e)
            sys.exit(1)
    os.makedirs(state, exist_ok=True)
    out("VERSION 1")
    if client:
        proxy = env.get("TOR_PT_PROXY")
        if proxy and BUG != "no-proxy-done":
            if not proxy.startswith("socks5://"):
                out("PROXY-ERROR only socks5 proxies")
                sys.exit(1)
            out("PROXY DONE")
        for name in client.split(","):
            if name != "plain":
                if BUG == "unknown-error":
                    out("CMETHOD-ERROR %s no such transport" % name)
                continue
            ls = socket.socket()
            ls.bind(("127.0.0.1", 0))
            ls.listen(16)
            host = "localhost" if BUG == "bad-cmethod" else "127.0.0.1"
            out("CMETHOD plain socks5 %s:%d" % (host, ls.getsockname()[1]))
            threading.Thread(target=serve, args=(ls, socks), daemon=True).start()
        out("CMETHODS DONE")
    else:
        for name in server.split(","):
            if name != "plain":
                continue
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(bind.get(name, ("127.0.0.1", 0)))
            ls.listen(16)
            out("SMETHOD plain %s:%d" % ls.getsockname())
            threading.Thread(target=serve, args=(ls, extor), daemon=True).start()
        out("SMETHODS DONE")
    if BUG == "bad-log":
        out('LOG SEVERITY=loud MESSAGE="hello"')
    else:
        out('LOG SEVERITY=notice MESSAGE="fake PT \\"ready\\""')
    if BUG == "after-done":
        time.sleep(0.3)
        out("CMETHOD plain socks5 127.0.0.1:1")
    stdin_exit = env.get("TOR_PT_EXIT_ON_STDIN_CLOSE") == "1" or BUG == "stdin-always"
    if BUG in ("stdin-ignored", "sigterm"):
        stdin_exit = False
    if stdin_exit:
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)
    while True:
        time.sleep(3600)

main()
'''


def make_fake(tmp_path, bug="none"):
    path = tmp_path / ("fake-pt-%s.py" % bug)
    path.write_text(FAKE_PT.replace("@BUG@", bug))
    path.chmod(0o755)
    return str(path)


def check(argv, timeout=120, env=None):
    """Run `ptkit check ARGV`; returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.setdefault("PTKIT_CHECK_CASES", CASES)
    if env:
        e.update(env)
    p = subprocess.run([h.PTKIT, "check"] + list(argv), env=e, capture_output=True,
                       timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    report = h.sanitizer_hits(err)
    assert not report, "sanitizer report from ptkit check:\n" + report
    return p.returncode, out, err


def check_json(argv, timeout=120):
    rc, out, err = check(["--json", "--verbose"] + list(argv), timeout=timeout)
    assert rc in (0, 1), "rc %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-3000:])
    doc = json.loads(out)
    return rc, {c["id"]: c for c in doc["cases"]}, doc, err


def alive_with(marker):
    """PIDs of live processes whose command line mentions marker."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and st != "Z":
            pids.append(int(d))
    return pids


# ---------------------------------------------------------------- ptkit itself

@pytest.mark.parametrize("role", ["--client", "--server"])
def test_ptkit_passes_every_must_case(role):
    h.require_private_netns()
    t0 = time.monotonic()
    rc, cases, doc, err = check_json([role, "--", h.PTKIT])
    elapsed = time.monotonic() - t0
    failed = {k: v["detail"] for k, v in cases.items() if v["result"] == "FAIL"}
    assert rc == 0, failed
    assert doc["summary"]["must_fail"] == 0 and doc["summary"]["conformant"] is True
    # ptkit fails nothing at all; it announces socks5 and accepts socks5 proxies
    assert not failed, failed
    skipped = sorted(k for k, v in cases.items() if v["result"] == "SKIP")
    assert skipped == (["proxy-error-exits", "socks4-connect"] if role == "--client" else []), \
        skipped
    assert len(cases) >= 25
    assert all(c["ms"] < 10000 for c in cases.values())
    assert elapsed < 120
    # the PT's own stderr (shown by --verbose) holds no sanitizer report
    assert not h.sanitizer_hits(err)


def test_ptkit_obfs4_client_and_server():
    """ptkit's obfs4 against ptkit's in-process obfs4 peer, both roles."""
    h.require_private_netns()
    sel = ["--case", "methods", "--case", "socks5-*connect", "--case", "extor-*",
           "--case", "proxy-used"]
    for role in ("--client", "--server"):
        rc, cases, doc, err = check_json([role, "--transport", "obfs4"] + sel + ["--", h.PTKIT])
        assert rc == 0, cases
        for k, v in cases.items():
            assert v["result"] == "PASS", (k, v["detail"])
        assert "obfs4" in doc["peer"]


# ---------------------------------------------------------------- the table and JSON

def test_json_matches_table():
    h.require_private_netns()
    sel = ["--case", "version-*", "--case", "env-*", "--case", "methods", "--case", "socks5-*"]
    rc, out, err = check(sel + ["--", h.PTKIT])
    assert rc == 0, out + err
    rows = {}
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("CASE ")]
    assert head, out
    for l in lines[head[0] + 1:]:
        if not l.strip():
            break
        m = re.match(r"(\S+)\s+(.+?)\s+(MUST|SHOULD|MAY)\s+(PASS|FAIL|SKIP)\s+(.*)$", l)
        assert m, l
        rows[m.group(1)] = (m.group(2), m.group(3), m.group(4), m.group(5))
    summary = [l for l in lines if re.match(r"\d+ cases: ", l)]
    assert summary and summary[0].startswith("%d cases: %d PASS" % (len(rows), len(rows) - sum(
        1 for r in rows.values() if r[2] != "PASS")))
    rc2, cases, doc, _ = check_json(sel + ["--", h.PTKIT])
    assert rc2 == rc
    assert list(cases) == list(rows)  # same cases, same order
    for k, (section, level, result, detail) in rows.items():
        c = cases[k]
        assert (c["section"], c["level"], c["result"]) == (section, level, result), k
        assert c["detail"] == detail, k
        assert c["title"] and c["file"].endswith(".case") and c["line"] > 0
    assert doc["role"] == "client" and doc["transport"] == "plain"
    assert doc["command"] == [os.path.realpath(h.PTKIT)]
    assert doc["summary"]["total"] == len(rows)
    assert "loopback only" in doc["network"]


def test_role_selection_and_case_filter():
    h.require_private_netns()
    sel = ["--case", "methods", "--case", "socks5-connect", "--case", "extor-auth"]
    _, client, _, _ = check_json(sel + ["--", h.PTKIT])
    _, server, _, _ = check_json(["--server"] + sel + ["--", h.PTKIT])
    assert sorted(client) == ["methods", "socks5-connect"]  # role "any" and "client"
    assert sorted(server) == ["extor-auth", "methods"]
    _, only, _, _ = check_json(["--case", "version-*", "--", h.PTKIT])
    assert sorted(only) == ["version-list", "version-unsupported"]


# ---------------------------------------------------------------- fake PTs

def test_fake_pt_without_bugs_passes_every_must_case(tmp_path):
    h.require_private_netns()
    fake = make_fake(tmp_path)
    for role in ("--client", "--server"):
        rc, cases, doc, err = check_json([role, "--", fake])
        failed = {k: v["detail"] for k, v in cases.items() if v["result"] == "FAIL"}
        # the fake speaks no SOCKS4: only the MAY case for SOCKS4a may fail
        assert rc == 0 and set(failed) <= {"socks4a-connect"}, (role, failed, err[-2000:])
    assert not alive_with(fake)


# (bug, role, cases to run, the case that must fail, what its detail must say, level)
FAMILIES = [
    ("version", "--client", ["version-*"], "version-unsupported",
     'printed "VERSION 1"', "MUST"),
    ("version-error-hangs", "--client", ["version-*"], "version-unsupported",
     "still running", "MUST"),
    ("env-silent", "--client", ["env-no-state", "env-error-exits"], "env-no-state",
     'no line matching "ENV-ERROR*"', "SHOULD"),
    ("bad-cmethod", "--client", ["methods"], "methods",
     "address is not a literal IP:port", "MUST"),
    ("unknown-error", "--client", ["unknown-transport"], "unknown-transport",
     "CMETHOD-ERROR ptkit_check_unknown", "SHOULD"),
    ("after-done", "--client", ["quiet-after-done"], "quiet-after-done",
     "after *METHODS DONE", "MUST"),
    ("bad-log", "--client", ["log-status-syntax"], "log-status-syntax",
     "invalid SEVERITY", "SHOULD"),
    ("stdin-ignored", "--client", ["stdin-*"], "stdin-close-exit",
     "still running", "SHOULD"),
    ("stdin-always", "--client", ["stdin-*"], "stdin-close-not-asked",
     "exited with status 0", "MUST"),
    ("sigterm", "--server", ["sigterm-exit"], "sigterm-exit",
     "still running 2 s later", "SHOULD"),
    ("early-data", "--server", ["extor-*"], "extor-wait-okay",
     "bytes after DONE, before OKAY", "MUST"),
    ("extor-auth", "--server", ["extor-auth"], "extor-auth",
     "SAFE_COOKIE authentication failed", "MUST"),
    ("useraddr", "--server", ["extor-useraddr"], "extor-useraddr",
     'USERADDR "localhost" is not a literal IP:port', "SHOULD"),
    ("no-proxy-done", "--client", ["proxy-*"], "proxy-answer",
     "CMETHODS DONE without PROXY DONE", "MUST"),
    ("proxy-bypass", "--client", ["proxy-used"], "proxy-used",
     "not through TOR_PT_PROXY", "MUST"),
    ("socks-replies", "--client", ["socks5-*"], "socks5-bad-command",
     "BIND request: replied success", "MUST"),
]


@pytest.mark.parametrize("bug,role,sel,case,detail,level", FAMILIES,
                         ids=[f[0] for f in FAMILIES])
def test_fake_pt_family_fails(tmp_path, bug, role, sel, case, detail, level):
    h.require_private_netns()
    fake = make_fake(tmp_path, bug)
    args = [role]
    for s in sel:
        args += ["--case", s]
    rc, cases, doc, err = check_json(args + ["--", fake])
    assert case in cases, sorted(cases)
    c = cases[case]
    assert c["result"] == "FAIL", (case, c)
    assert detail in c["detail"], (case, c["detail"])
    assert c["level"] == level
    assert rc == (1 if any(v["result"] == "FAIL" and v["level"] == "MUST"
                           for v in cases.values()) else 0)
    if level == "MUST":
        assert rc == 1 and doc["summary"]["conformant"] is False
    # every fake is reaped, even the one that ignores SIGTERM and stdin
    assert not alive_with(fake), alive_with(fake)


def test_fake_socks_family_details(tmp_path):
    """The "bad SOCKS replies" fake also loses the arguments and accepts bad address types."""
    h.require_private_netns()
    fake = make_fake(tmp_path, "socks-replies")
    rc, cases, _, _ = check_json(["--case", "socks5-*", "--", fake])
    assert rc == 1
    assert "the arguments would be lost" in cases["socks5-args-auth"]["detail"]
    assert cases["socks5-args-auth"]["result"] == "FAIL"
    assert cases["socks5-bad-atyp"]["result"] == "FAIL"
    assert "replied success" in cases["socks5-bad-atyp"]["detail"]
    assert cases["socks5-no-auth"]["result"] == "PASS"


def test_fake_no_proxy_done_fails_the_proxy_family(tmp_path):
    h.require_private_netns()
    fake = make_fake(tmp_path, "no-proxy-done")
    rc, cases, _, _ = check_json(["--case", "proxy-*", "--", fake])
    assert rc == 1
    assert cases["proxy-bad-scheme"]["result"] == "FAIL"
    assert cases["proxy-socks5-supported"]["result"] == "FAIL"
    assert cases["proxy-used"]["result"] == "SKIP"  # reported once, by proxy-answer


def test_sigterm_ignoring_pt_is_killed_and_reaped(tmp_path):
    h.require_private_netns()
    fake = make_fake(tmp_path, "sigterm")
    t0 = time.monotonic()
    rc, cases, _, err = check_json(["--case", "sigterm-exit", "--case", "methods", "--", fake])
    assert time.monotonic() - t0 < 30
    assert cases["sigterm-exit"]["result"] == "FAIL"
    assert cases["methods"]["result"] == "PASS"
    assert "SIGKILL" in err
    assert not alive_with(fake)


# ---------------------------------------------------------------- obfs4proxy

@pytest.mark.skipif(not shutil.which("obfs4proxy"), reason="obfs4proxy not installed")
@pytest.mark.parametrize("role", ["--client", "--server"])
def test_obfs4proxy(role):
    h.require_private_netns()
    rc, cases, doc, err = check_json([role, "--transport", "obfs4", "--", "obfs4proxy"])
    must_failed = {k: v["detail"] for k, v in cases.items()
                   if v["result"] == "FAIL" and v["level"] == "MUST"}
    assert rc == 0 and not must_failed, must_failed
    # what obfs4proxy 0.0.14 is known to do
    assert cases["unknown-transport"]["result"] == "FAIL"
    data = "socks5-connect" if role == "--client" else "extor-data"
    assert cases[data]["result"] == "PASS", cases[data]


# ---------------------------------------------------------------- usage

def test_usage_errors(tmp_path):
    rc, out, err = check([])
    assert rc == 2 and "no PT command" in err
    rc, out, err = check(["--", "/nonexistent/pt"])
    assert rc == 2 and "/nonexistent/pt" in err
    rc, out, err = check(["--frobnicate", "--", h.PTKIT])
    assert rc == 2 and "unknown option" in err
    rc, out, err = check(["--transport", "no-such", "--", h.PTKIT])
    assert rc == 2 and "C identifier" in err
    rc, out, err = check(["--case", "nothing-matches", "--no-netns", "--", h.PTKIT])
    assert rc == 2 and "no case selected" in err
    rc, out, err = check(["--server", "--bridge", "127.0.0.1:1", "--", h.PTKIT])
    assert rc == 2 and "--bridge" in err
    rc, out, err = check(["--help"])
    assert rc == 0 and "usage: ptkit check" in out
    bad = tmp_path / "cases"
    bad.mkdir()
    (bad / "x.case").write_text("case x\ntitle t\nsection s\nlevel MUST\nrole any\nfly\n")
    rc, out, err = check(["--cases", str(bad), "--no-netns", "--", h.PTKIT])
    assert rc == 2 and "x.case:6: unknown keyword \"fly\"" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, out, err = check(["--cases", str(empty), "--no-netns", "--", h.PTKIT])
    assert rc == 2 and "no *.case files" in err


def test_custom_case_dir(tmp_path):
    """A PT author's own case, in the documented format, runs as written."""
    h.require_private_netns()
    d = tmp_path / "cases"
    d.mkdir()
    (d / "mine.case").write_text(
        "# my own\n"
        "case my-version\n"
        "title   VERSION 1 comes first\n"
        "section 3.3.1\n"
        "level   MUST\n"
        "role    client\n"
        "env     TOR_PT_MANAGED_TRANSPORT_VER=1\n"
        "expect  VERSION 1\n"
        "configure\n"
        "socks   5 args=none expect=echo\n"
        "case my-failing\n"
        "title   a case that cannot pass\n"
        "section 0\n"
        "level   MAY\n"
        "role    any\n"
        "timeout 1\n"
        "expect  NO SUCH LINE\n")
    rc, cases, doc, _ = check_json(["--cases", str(d), "--", h.PTKIT])
    assert rc == 0  # only a MAY case failed
    assert cases["my-version"]["result"] == "PASS"
    assert cases["my-failing"]["result"] == "FAIL"
    assert 'no line matching "NO SUCH LINE" within 1 s' in cases["my-failing"]["detail"]
    assert cases["my-failing"]["ms"] < 4000
