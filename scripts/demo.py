#!/usr/bin/env python3
"""make demo: a loopback demonstration of ptkit's managed-proxy protocol.

Plays tor's part on both sides: launches `ptkit` as a server PT (with an
Extended ORPort that authenticates it with SAFE_COOKIE) and as a client PT,
shows the stdout protocol exchange, then pushes data from a SOCKS client
through client PT -> server PT -> Extended ORPort -> echo service and back,
and checks it with SHA-256. Everything stays on 127.0.0.1; exits 0 on success.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import ptkit_harness as h  # noqa: E402


def show(role, lines):
    for line in lines:
        print(f"  {role} PT -> tor: {line}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptkit", default=h.PTKIT)
    ap.add_argument("--mib", type=int, default=64, help="MiB to send through the tunnel")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ptkit-demo-")
    cookie_path = os.path.join(tmp, "extended_orport_auth_cookie")
    cookie = h.make_cookie(cookie_path)
    extor = h.ExtORPortStub(cookie)
    pts = []
    try:
        senv = h.base_env(os.path.join(tmp, "server"), TOR_PT_SERVER_TRANSPORTS="plain",
                          TOR_PT_SERVER_BINDADDR="plain-127.0.0.1:0",
                          TOR_PT_ORPORT="127.0.0.1:1",
                          TOR_PT_EXTENDED_SERVER_PORT="%s:%d" % extor.addr,
                          TOR_PT_AUTH_COOKIE_FILE=cookie_path, TOR_PT_EXIT_ON_STDIN_CLOSE="1")
        print("== server PT: tor's environment")
        for k in sorted(senv):
            if k.startswith("TOR_PT_"):
                print(f"  {k}={senv[k]}")
        server = h.PT(senv, exe=a.ptkit)
        pts.append(server)
        lines, m = server.config()
        show("server", lines)
        shost, sport, _ = m["plain"]

        cenv = h.base_env(os.path.join(tmp, "client"), TOR_PT_CLIENT_TRANSPORTS="plain",
                          TOR_PT_EXIT_ON_STDIN_CLOSE="1")
        print("== client PT: tor's environment")
        for k in sorted(cenv):
            if k.startswith("TOR_PT_"):
                print(f"  {k}={cenv[k]}")
        client = h.PT(cenv, exe=a.ptkit)
        pts.append(client)
        lines, m = client.config()
        show("client", lines)
        socks = m["plain"][:2]

        print(f"== SOCKS5 CONNECT {shost}:{sport} via the client PT at {socks[0]}:{socks[1]}")
        t0 = time.monotonic()
        s, rep = h.socks5_connect(socks, shost, sport, args=[("demo", "yes")])
        t_hs = time.monotonic() - t0
        if rep != 0:
            print(f"SOCKS reply {rep}: FAILED")
            return 1
        payload = os.urandom(a.mib * 1024 * 1024)
        t0 = time.monotonic()
        echoed = h.pump_through(s, payload)
        dt = time.monotonic() - t0
        s.close()
        ok = h.sha256(echoed) == h.sha256(payload)
        sess = extor.sessions[0] if extor.sessions else {}
        print(f"  Extended ORPort: auth={sess.get('auth')} TRANSPORT={sess.get('transport')} "
              f"USERADDR={sess.get('useraddr')}")
        print(f"  connect+handshake: {t_hs * 1000:.1f} ms")
        print(f"  {len(payload)} bytes each way in {dt:.2f} s = "
              f"{2 * len(payload) / dt / 2**20:.0f} MiB/s through both PTs (both directions)")
        print(f"  SHA-256 sent    {h.sha256(payload)}")
        print(f"  SHA-256 echoed  {h.sha256(echoed)}")
        print("== shutdown: closing the PTs' stdin (TOR_PT_EXIT_ON_STDIN_CLOSE=1)")
        for pt in pts:
            pt.proc.stdin.close()
            status = pt.wait(5)
            for line in pt.rest(0.5):
                print(f"  {line}")
            print(f"  exit status {status}")
        print("demo: OK" if ok else "demo: DATA MISMATCH")
        return 0 if ok else 1
    finally:
        for pt in pts:
            pt.stop()
        extor.close()


if __name__ == "__main__":
    sys.exit(main())
