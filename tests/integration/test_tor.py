"""Real tor through ptkit (plain transport), both roles, inside a private
network namespace (unshare --net; the test refuses to run outside one).

A bridge relay runs `ServerTransportPlugin plain exec ptkit` with
`ExtORPort auto`; a client runs `ClientTransportPlugin plain exec ptkit` with
`Bridge plain ADDR FINGERPRINT`. No directory authorities exist here (a fake
one on a closed loopback port keeps tor from even trying the public ones),
so the finish line is: the client receives the bridge's descriptor through
the PT, and the bridge's Extended ORPort accepted the PT's connection.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

import ptkit_harness as h

TOR = shutil.which("tor") or "/usr/bin/tor"
FAKE_AUTH = ("DirAuthority fake orport=9 no-v2 v3ident=" + "0" * 39 + "1 127.0.0.1:8 "
             + "0" * 39 + "2")


def free_port():
    import socket
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
    raise AssertionError(f"timed out waiting for {what}")


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
    """SIGTERM tor and check its PT children go away with it (no orphan)."""
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


@pytest.mark.skipif(not os.path.exists(TOR), reason="tor is not installed")
def test_real_tor_client_and_bridge_through_ptkit(tmp_path):
    h.require_private_netns()
    ptkit = os.path.abspath(h.PTKIT)
    bdir, cdir = tmp_path / "bridge", tmp_path / "client"
    for d in (bdir, cdir):
        d.mkdir(mode=0o700)
    orport, ptport = free_port(), free_port()
    blog, clog = tmp_path / "bridge.log", tmp_path / "client.log"
    bridge = start_tor(tmp_path / "bridge.torrc", [
        f"DataDirectory {bdir}", "Nickname ptkitbridge", f"ORPort 127.0.0.1:{orport}",
        "BridgeRelay 1", "PublishServerDescriptor 0", "AssumeReachable 1", "ExitRelay 0",
        "ExtORPort auto", "SocksPort 0",
        f"ServerTransportPlugin plain exec {ptkit} --log-level info",
        f"ServerTransportListenAddr plain 127.0.0.1:{ptport}",
        "TestingTorNetwork 1", FAKE_AUTH, f"Log info file {blog}"])
    client = None
    try:
        fp = wait_for(lambda: read(bdir / "fingerprint").split()[1:2], 30, "bridge fingerprint")[0]
        wait_for(lambda: "Registered server transport 'plain'" in read(blog), 30,
                 "the bridge to register the plain transport")
        blines = read(blog)
        assert "Got a line from managed proxy" in blines and "(VERSION 1)" in blines
        assert f"(SMETHOD plain 127.0.0.1:{ptport})" in blines
        client = start_tor(tmp_path / "client.torrc", [
            f"DataDirectory {cdir}", "SocksPort 0", "UseBridges 1",
            f"Bridge plain 127.0.0.1:{ptport} {fp}",
            f"ClientTransportPlugin plain exec {ptkit} --log-level info",
            "TestingTorNetwork 1", FAKE_AUTH, f"Log info file {clog}"])
        wait_for(lambda: "new bridge descriptor 'ptkitbridge'" in read(clog), 90,
                 "the client to receive the bridge descriptor through the PT\n"
                 + read(clog)[-3000:])
        clines = read(clog)
        assert "(CMETHOD plain socks5 127.0.0.1:" in clines
        assert "(CMETHODS DONE)" in clines
        wait_for(lambda: "Extended ORPort accepted it" in read(blog), 10,
                 "the bridge's Extended ORPort to accept the PT's connection")
        for log in (read(blog), read(clog)):
            assert "failed the configuration protocol" not in log
            assert "Unknown line received by managed proxy" not in log
    finally:
        results = []
        for proc in (client, bridge):
            if proc:
                results.append(stop_tor(proc))
    for kids, alive in results:
        assert kids, "tor had no PT child"
        assert not alive, f"PT processes {alive} outlived tor"
