"""Real tor through obfs4, inside a private network namespace (unshare --net;
the tests refuse to run outside one).

A bridge relay runs `ServerTransportPlugin obfs4 exec <ptkit or obfs4proxy>`
with `ExtORPort auto`; its cert is read from pt_state/obfs4_bridgeline.txt
(and checked against the SMETHOD line tor logged). A client runs
`ClientTransportPlugin obfs4 exec <ptkit or obfs4proxy>` with
`Bridge obfs4 ADDR FINGERPRINT cert=... iat-mode=0`. No directory
authorities exist here (a fake one on a closed loopback port keeps tor from
trying the public ones), so the finish line is: the client receives the
bridge's descriptor through obfs4, and (ptkit bridge) the bridge's Extended
ORPort accepted the PT's connection.

Pairs (client PT, bridge PT): (ptkit, ptkit), (ptkit, obfs4proxy),
(obfs4proxy, ptkit).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import ptkit_harness as h
import obfs4_helpers as o

TOR = shutil.which("tor") or "/usr/bin/tor"
FAKE_AUTH = ("DirAuthority fake orport=9 no-v2 v3ident=" + "0" * 39 + "1 127.0.0.1:8 "
             + "0" * 39 + "2")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_tor(torrc_path, lines):
    with open(torrc_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return subprocess.Popen([TOR, "-f", str(torrc_path), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_tor(proc):
    """SIGTERM tor; returns (PT children, those still alive 10 s later)."""
    kids = h.children_of(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    alive = kids
    while alive and time.monotonic() < deadline:
        alive = [k for k in alive if os.path.exists(f"/proc/{k}")
                 and "Z" not in read(f"/proc/{k}/stat").rsplit(")", 1)[-1].split()[:1]]
        time.sleep(0.1)
    return kids, alive


def plugin_cmd(kind):
    if kind == "ptkit":
        return f"{os.path.abspath(h.PTKIT)} --log-level info"
    return f"{o.OBFS4PROXY} -enableLogging -logLevel DEBUG"


PAIRS = [("ptkit", "ptkit"), ("ptkit", "obfs4proxy"), ("obfs4proxy", "ptkit")]


@pytest.mark.skipif(not os.path.exists(TOR), reason="tor is not installed")
@pytest.mark.parametrize("client_kind,bridge_kind", PAIRS,
                         ids=["%s-client-%s-bridge" % p for p in PAIRS])
def test_real_tor_over_obfs4(tmp_path, client_kind, bridge_kind):
    h.require_private_netns()
    if "obfs4proxy" in (client_kind, bridge_kind) and not o.HAVE_OBFS4PROXY:
        pytest.skip("obfs4proxy is not installed")
    bdir, cdir = tmp_path / "bridge", tmp_path / "client"
    for d in (bdir, cdir):
        d.mkdir(mode=0o700)
    orport, ptport = free_port(), free_port()
    blog, clog = tmp_path / "bridge.log", tmp_path / "client.log"
    bridge = start_tor(tmp_path / "bridge.torrc", [
        f"DataDirectory {bdir}", "Nickname obfs4bridge", f"ORPort 127.0.0.1:{orport}",
        "BridgeRelay 1", "PublishServerDescriptor 0", "AssumeReachable 1", "ExitRelay 0",
        "ExtORPort auto", "SocksPort 0",
        f"ServerTransportPlugin obfs4 exec {plugin_cmd(bridge_kind)}",
        f"ServerTransportListenAddr obfs4 127.0.0.1:{ptport}",
        "TestingTorNetwork 1", FAKE_AUTH, f"Log info file {blog}"])
    client = None
    results = []
    try:
        fp = wait_for(lambda: read(bdir / "fingerprint").split()[1:2], 30, "bridge fingerprint")[0]
        wait_for(lambda: "Registered server transport 'obfs4'" in read(blog), 30,
                 "the bridge to register the obfs4 transport\n" + read(blog)[-3000:])
        blines = read(blog)
        assert "failed the configuration protocol" not in blines
        m = re.search(r"\(SMETHOD obfs4 127\.0\.0\.1:%d ARGS:cert=([A-Za-z0-9+/]{70}),iat-mode=0\)"
                      % ptport, blines)
        assert m, "no SMETHOD obfs4 line with cert= and iat-mode=0 in the bridge log\n" + \
            "\n".join(l for l in blines.splitlines() if "SMETHOD" in l)
        cert, iat = o.read_bridgeline(bdir / "pt_state")
        assert (cert, iat) == (m.group(1), 0), (cert, iat, m.group(1))

        client = start_tor(tmp_path / "client.torrc", [
            f"DataDirectory {cdir}", "SocksPort 0", "UseBridges 1",
            f"Bridge obfs4 127.0.0.1:{ptport} {fp} cert={cert} iat-mode=0",
            f"ClientTransportPlugin obfs4 exec {plugin_cmd(client_kind)}",
            "TestingTorNetwork 1", FAKE_AUTH, f"Log info file {clog}"])
        wait_for(lambda: "new bridge descriptor 'obfs4bridge'" in read(clog), 90,
                 "the client to receive the bridge descriptor through obfs4\n"
                 + read(clog)[-3000:] + "\n--- bridge ---\n" + read(blog)[-3000:])
        clines = read(clog)
        assert "(CMETHOD obfs4 socks5 127.0.0.1:" in clines
        assert "(CMETHODS DONE)" in clines
        if bridge_kind == "ptkit":
            wait_for(lambda: "Extended ORPort accepted it" in read(blog), 10,
                     "the bridge's Extended ORPort to accept ptkit's connection")
        else:
            wait_for(lambda: "- new connection" in read(bdir / "pt_state" / "obfs4proxy.log"), 10,
                     "obfs4proxy on the bridge to log the client's connection")
        for log in (read(blog), read(clog)):
            assert "failed the configuration protocol" not in log
            assert "Unknown line received by managed proxy" not in log
    finally:
        for proc in (client, bridge):
            if proc:
                results.append(stop_tor(proc))
    for kids, alive in results:
        assert kids, "tor had no PT child"
        assert not alive, f"PT processes {alive} outlived tor"
