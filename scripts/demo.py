#!/usr/bin/env python3
"""make demo: ptkit end to end on loopback.

Two `ptkit host` processes, as two machines would run them:
  - a bridge host running `ptkit` as an obfs4 server PT in front of a local
    TCP service (an echo server here), through the Extended ORPort;
  - a client host running `ptkit` as an obfs4 client PT, with a local
    TCP port tunnelled to the bridge.
Data goes client app -> client host -> obfs4 -> bridge host -> service and
back; the demo prints the bridge line, the bytes checked with SHA-256, the
throughput and the handshake time, and exits 0 on success. Everything stays
on 127.0.0.1.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import ptkit_harness as h  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_line(path, needle, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line.rstrip()
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"demo: timed out waiting for '{needle}' in {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptkit", default=h.PTKIT)
    ap.add_argument("--mib", type=int, default=64, help="MiB to send through the tunnel")
    a = ap.parse_args()
    ptkit = os.path.abspath(a.ptkit)
    tmp = tempfile.mkdtemp(prefix="ptkit-demo-")
    echo = h.Server(h.echo_handler)
    procs = []
    try:
        # The bridge's identity, as an operator would create it.
        bdata = os.path.join(tmp, "bridge")
        out = subprocess.run([ptkit, "keygen", "--state", os.path.join(bdata, "pt_state")],
                             check=True, capture_output=True, text=True).stdout.strip()
        cert = out.split("cert=")[1].split()[0]
        port = free_port()
        print("== bridge line (from `ptkit keygen`):")
        print("  " + out.replace("<IP ADDRESS>:<PORT>", f"127.0.0.1:{port}"))

        bconf = os.path.join(tmp, "bridge.conf")
        with open(bconf, "w") as f:
            f.write(f"DataDirectory {bdata}\n"
                    f"ServerTransportPlugin obfs4 exec {ptkit}\n"
                    f"ServerTransportListenAddr obfs4 127.0.0.1:{port}\n"
                    f"ServerForward {echo.addr[0]}:{echo.addr[1]}\n"
                    f"Log info file {tmp}/bridge.log\n")
        listen = free_port()
        cconf = os.path.join(tmp, "client.conf")
        with open(cconf, "w") as f:
            f.write(f"DataDirectory {tmp}/client\n"
                    f"ClientTransportPlugin obfs4 exec {ptkit}\n"
                    f"Bridge obfs4 127.0.0.1:{port} cert={cert} iat-mode=0\n"
                    f"ClientListen 127.0.0.1:{listen} 1\n"
                    f"Log info file {tmp}/client.log\n")
        print(f"== bridge host: ptkit host -f {bconf}")
        procs.append(subprocess.Popen([ptkit, "host", "-f", bconf]))
        print("  " + wait_line(f"{tmp}/bridge.log", "server transport obfs4 at"))
        print(f"== client host: ptkit host -f {cconf}")
        procs.append(subprocess.Popen([ptkit, "host", "-f", cconf]))
        print("  " + wait_line(f"{tmp}/client.log", "client transport obfs4 at"))

        # Handshake time: connect through the tunnel until the first byte comes back.
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", listen), timeout=10)
        s.sendall(b"x")
        if h.recv_exact(s, 1) != b"x":
            raise SystemExit("demo: first byte did not come back")
        t_hs = time.monotonic() - t0
        payload = os.urandom(a.mib * 1024 * 1024)
        t0 = time.monotonic()
        echoed = h.pump_through(s, payload)
        dt = time.monotonic() - t0
        s.close()
        ok = h.sha256(echoed) == h.sha256(payload)
        print("== data: app -> client host -> obfs4 -> bridge host -> ExtORPort -> service and back")
        print(f"  connect + obfs4 handshake + first byte back: {t_hs * 1000:.1f} ms")
        print(f"  {len(payload)} bytes each way in {dt:.2f} s = "
              f"{len(payload) / dt / 2**20:.0f} MiB/s each way")
        print(f"  SHA-256 sent    {h.sha256(payload)}")
        print(f"  SHA-256 echoed  {h.sha256(echoed)}")
        print("  " + wait_line(f"{tmp}/bridge.log", "Extended ORPort: accepted"))
        print("== shutdown (SIGTERM to both hosts)")
        statuses = []
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            statuses.append(p.wait(15))
        print(f"  exit statuses {statuses}")
        ok = ok and statuses == [0, 0]
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        echo.close()


if __name__ == "__main__":
    sys.exit(main())
