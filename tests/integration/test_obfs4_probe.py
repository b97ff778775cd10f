"""Active-probing resistance of ptkit's obfs4 server, compared with Debian's
obfs4proxy 0.0.14 running the same identity, inside a private network
namespace (obfs4proxy may dial out; the tests refuse to run outside one).

A failed server handshake must look like nothing: the server sends no byte,
reads and discards, and closes at accept + 30 s + closeDelay, where
closeDelay = rand.New(HashDrbg(drbg-seed)).Intn(60) is fixed per bridge. The
identity's drbg-seed is chosen (by the Python DRBG below) so that closeDelay
is DELAY seconds: the probes, all run at once against both servers, take
~35 s. Probes: silence, random bytes (below and above the 8192-byte
handshake limit), a captured real client first flight cut short, the same
flight with one trailing byte, the complete flight replayed after its
session succeeded, and real clients (ptkit and obfs4proxy) holding a cert for
another identity. Meanwhile legitimate clients keep working.

The scenario runs once (module fixture); the tests check its parts.
"""
import os
import socket
import threading
import time

import pytest

import ptkit_harness as h
import obfs4_helpers as o

DELAY = 4            # closeDelay of the chosen drbg-seed (seconds)
HS_TIMEOUT = 30      # obfs4 server handshake timeout
EARLY_SLACK = 1.0    # may close this much before accept + 30 + DELAY
LATE_SLACK = 3.0     # must close by accept + 30 + DELAY + this
AGREE = 1.5          # ptkit vs obfs4proxy close time, same probe
SERVERS = ("ptkit", "obfs4proxy")


def test_python_drbg_matches_known_answers():
    """The Python hash DRBG / Go Intn used to pick the seed (no processes)."""
    assert o.siphash24(bytes(range(16)), b"").to_bytes(8, "little").hex() == "310e0edd47db6f72"
    assert o.siphash24(bytes(range(16)), b"\x00").to_bytes(8, "little").hex() == "fd67dc93c539f874"
    d = o.HashDrbg(bytes(24))
    assert [d.int63() for _ in range(3)] == [7432626515892259304, 5773523046280711756,
                                            4537542203639783680]
    seed = o.seed_with_delay(DELAY)
    assert o.close_delay(seed) == DELAY
    assert 0 <= o.close_delay(bytes(24)) < 60


def raw_probe(addr, data, wait, fin=False):
    """Connect, send data (half-close after it only if fin), read until the
    server closes or `wait` s pass. Returns dict(t_accept, t_close or None,
    got, how: "eof"/"reset")."""
    res = {"t_accept": None, "t_close": None, "got": 0, "error": None, "how": None,
           "fin": fin}
    try:
        s = socket.create_connection(addr, timeout=10)
    except OSError as e:
        res["error"] = repr(e)
        return res
    res["t_accept"] = time.monotonic()
    try:
        if data:
            s.sendall(data)
        if fin:
            s.shutdown(socket.SHUT_WR)
        deadline = res["t_accept"] + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionError:
                res["t_close"], res["how"] = time.monotonic(), "reset"
                break
            if not d:
                res["t_close"], res["how"] = time.monotonic(), "eof"
                break
            res["got"] += len(d)
    finally:
        s.close()
    return res


def relay_probe(client, relay, cert, wait):
    """A real client PT with `cert` connects through a relay that keeps the
    server side open whatever the client does; the server's behaviour is read
    from the relay's record."""
    res = {"t_accept": None, "t_close": None, "got": 0, "error": None, "socks": None,
           "flight": b"", "fin": False, "how": None}
    t0 = time.monotonic()
    try:
        s, rep = client.connect(relay.addr, cert, 0, timeout=wait)
        res["socks"] = rep
        try:
            h.wait_closed(s, max(0.1, wait - (time.monotonic() - t0)))
        except (AssertionError, OSError):
            pass
        s.close()
    except (OSError, EOFError) as e:
        res["socks"] = repr(e)
    deadline = t0 + wait
    while time.monotonic() < deadline and not (relay.records and
                                               relay.records[0].t_server_closed):
        time.sleep(0.05)
    if not relay.records:
        res["error"] = "the client PT never connected"
        return res
    rec = relay.records[0]
    res["t_accept"], res["t_close"], res["got"] = rec.t_connected, rec.t_server_closed, rec.s2c_len
    res["flight"] = rec.first_flight()
    return res


def legit_session(client, srv, size=256 * 1024):
    try:
        s, rep = client.connect(srv.addr, srv.cert, 0, timeout=20)
    except (OSError, EOFError) as e:
        return False, f"connect: {e!r}"
    if rep != 0:
        s.close()
        return False, f"SOCKS reply {rep}"
    ok, msg, _ = o.echo_check(s, os.urandom(size), 30.0)
    s.close()
    return ok, msg


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    if not o.HAVE_OBFS4PROXY:
        pytest.skip("obfs4proxy is not installed")
    h.require_private_netns()
    tmp = tmp_path_factory.mktemp("obfs4probe")
    seed = o.seed_with_delay(DELAY)
    ident = [("node-id", os.urandom(20).hex()), ("private-key", os.urandom(32).hex()),
             ("drbg-seed", seed.hex()), ("iat-mode", "0")]
    closers = []
    echo = h.Server(h.echo_handler)
    closers.append(echo.close)
    sc = {"ident": ident, "results": {}, "legit": [], "flights": {}}
    try:
        srv = {k: o.Obfs4Server(k, tmp / ("srv-" + k), echo.addr, ident) for k in SERVERS}
        for v in srv.values():
            closers.append(v.stop)
        cli = {k: o.Obfs4Client(k, tmp / ("cli-" + k)) for k in SERVERS}
        for v in cli.values():
            closers.append(v.stop)
        sc["srv"], sc["cli"] = srv, cli

        # Capture a real (obfs4proxy) client's first flight to each server.
        for k in SERVERS:
            rel = o.RecordingRelay(srv[k].addr)
            closers.append(rel.close)
            s, rep = cli["obfs4proxy"].connect(rel.addr, srv[k].cert, 0, timeout=20)
            assert rep == 0, f"capture session to {k}: SOCKS reply {rep}"
            ok, msg, _ = o.echo_check(s, os.urandom(65536), 20.0)
            s.close()
            assert ok, f"capture session to {k}: {msg}"
            h.wait_for(lambda: rel.records and rel.records[0].flight is not None, 5,
                       "the recorded flight")
            sc["flights"][k] = rel.records[0].first_flight()

        wait = HS_TIMEOUT + DELAY + LATE_SLACK + 5
        rnd5000, rnd9000 = os.urandom(5000), os.urandom(9000)
        wrong_cert = o.random_cert()
        sc["wrong_cert"] = wrong_cert
        jobs = []
        for k in SERVERS:
            flight = sc["flights"][k]
            for name, data in (("silent", b""), ("random-5000", rnd5000),
                               ("random-9000", rnd9000),
                               ("truncated-half", flight[:len(flight) // 2]),
                               ("truncated-minus-1", flight[:-1]),
                               ("trailing-byte", flight + b"\x00"),
                               ("replay", flight)):
                jobs.append((k, name, raw_probe, (srv[k].addr, data, wait)))
            # A prober that half-closes: obfs4proxy stops discarding at EOF and
            # closes at once; ptkit should look the same.
            for name, data in (("fin-silent", b""), ("fin-after-random-5000", rnd5000),
                               ("fin-after-random-9000", rnd9000),
                               ("fin-after-replay", flight)):
                jobs.append((k, name, raw_probe, (srv[k].addr, data, wait, True)))
            for ck in SERVERS:
                rel = o.RecordingRelay(srv[k].addr, pass_client_eof=False)
                closers.append(rel.close)
                jobs.append((k, "wrong-cert-%s-client" % ck, relay_probe,
                             (cli[ck], rel, wrong_cert, wait)))

        def run(k, name, fn, args):
            try:
                sc["results"][(k, name)] = fn(*args)
            except Exception as e:  # reported by the tests
                sc["results"][(k, name)] = {"error": repr(e), "t_accept": None,
                                            "t_close": None, "got": 0, "fin": False}

        threads = [threading.Thread(target=run, args=j, daemon=True) for j in jobs]
        t0 = time.monotonic()
        for t in threads:
            t.start()

        # Legitimate clients, both kinds, to both servers, while the probes hang on.
        for at in (2.0, 20.0):
            while time.monotonic() < t0 + at:
                time.sleep(0.05)
            for k in SERVERS:
                for ck in SERVERS:
                    ok, msg = legit_session(cli[ck], srv[k])
                    sc["legit"].append((at, ck, k, ok, msg))
        for t in threads:
            t.join(max(0.1, wait + 10 - (time.monotonic() - t0)))
        sc["elapsed"] = time.monotonic() - t0
        sc["alive"] = {k: srv[k].pt.alive() for k in SERVERS}
        sc["logs"] = {k: srv[k].log_text()[-3000:] for k in SERVERS}
        yield sc
    finally:
        problems = []
        for c in reversed(closers):
            try:
                c()
            except Exception as e:  # e.g. a sanitizer report from a PT's stop()
                problems.append(e)
        if problems:
            raise problems[0]


def fmt(res):
    if res.get("error"):
        return "error " + res["error"]
    if res["t_close"] is None:
        return "still open"
    how = (" " + res["how"]) if res.get("how") else ""
    return "closed%s after %.2fs, %d bytes" % (how, res["t_close"] - res["t_accept"], res["got"])


def table(sc):
    names = sorted({n for _, n in sc["results"]})
    rows = ["%-28s %-38s %s" % (n, "ptkit: " + fmt(sc["results"][("ptkit", n)]),
                               "obfs4proxy: " + fmt(sc["results"][("obfs4proxy", n)]))
            for n in names]
    return "\n".join(rows)


def test_both_servers_share_the_identity(scenario):
    h.require_private_netns()
    srv = scenario["srv"]
    assert srv["ptkit"].cert == srv["obfs4proxy"].cert, (srv["ptkit"].args, srv["obfs4proxy"].args)
    assert scenario["alive"] == {"ptkit": True, "obfs4proxy": True}, scenario["logs"]
    print(f"\n[obfs4 probes, closeDelay={DELAY}s, scenario {scenario['elapsed']:.1f}s]\n"
          + table(scenario))


def test_captured_flights_are_client_handshakes(scenario):
    h.require_private_netns()
    cert = scenario["srv"]["ptkit"].cert
    for k, fl in scenario["flights"].items():
        assert 32 + 77 + 32 <= len(fl) <= 8192, (k, len(fl))
        assert fl[-32:-16] == o.client_mark(cert, fl), f"{k}: no M_C at the flight's tail"
    for k in SERVERS:
        for ck in SERVERS:
            fl = scenario["results"][(k, "wrong-cert-%s-client" % ck)].get("flight", b"")
            assert len(fl) >= 32 + 77 + 32, f"{ck} client sent {len(fl)} bytes to {k}"
            assert fl[-32:-16] == o.client_mark(scenario["wrong_cert"], fl), \
                f"{ck} client's flight to {k} is not a handshake for the wrong cert"


def test_probes_get_no_bytes(scenario):
    h.require_private_netns()
    bad = {key: fmt(r) for key, r in scenario["results"].items()
           if r.get("error") or r["got"] != 0}
    assert not bad, f"servers answered probes: {bad}\n{table(scenario)}"


def test_probes_not_closed_early(scenario):
    h.require_private_netns()
    lo = HS_TIMEOUT + DELAY - EARLY_SLACK
    bad = {key: fmt(r) for key, r in held(scenario)
           if r.get("error") or (r["t_close"] is not None and r["t_close"] - r["t_accept"] < lo)}
    assert not bad, f"closed before accept+{lo}s: {bad}\n{table(scenario)}"


def test_probes_closed_on_time(scenario):
    h.require_private_netns()
    hi = HS_TIMEOUT + DELAY + LATE_SLACK
    bad = {key: fmt(r) for key, r in held(scenario)
           if r.get("error") or r["t_close"] is None or r["t_close"] - r["t_accept"] > hi}
    assert not bad, f"not closed by accept+{hi}s: {bad}\n{table(scenario)}"


def test_ptkit_close_times_match_obfs4proxy(scenario):
    h.require_private_netns()
    res = scenario["results"]
    bad = {}
    for (k, name), r in res.items():
        if k != "ptkit":
            continue
        ref = res[("obfs4proxy", name)]
        if r["t_close"] is None or ref["t_close"] is None:
            bad[name] = (fmt(r), fmt(ref))
            continue
        a, b = r["t_close"] - r["t_accept"], ref["t_close"] - ref["t_accept"]
        if abs(a - b) > AGREE:
            bad[name] = "ptkit %.2fs vs obfs4proxy %.2fs" % (a, b)
        elif r.get("how") != ref.get("how"):
            bad[name] = "ptkit closed with %s, obfs4proxy with %s" % (r.get("how"), ref.get("how"))
    assert not bad, f"close times differ: {bad}\n{table(scenario)}"


def held(sc):
    """The probes that keep their side open (the server decides when to close)."""
    return [(key, r) for key, r in sc["results"].items() if not r.get("fin")]


def test_half_closed_probes_are_closed_at_once(scenario):
    """obfs4proxy reads-and-discards only until EOF: a prober's FIN ends it."""
    h.require_private_netns()
    bad = {key: fmt(r) for key, r in scenario["results"].items()
           if r.get("fin") and (r.get("error") or r["t_close"] is None
                                or r["t_close"] - r["t_accept"] > 2.0)}
    assert not bad, f"half-closed probes not closed within 2 s: {bad}\n{table(scenario)}"


def test_legit_clients_work_during_probes(scenario):
    h.require_private_netns()
    assert len(scenario["legit"]) == 8, scenario["legit"]
    bad = [l for l in scenario["legit"] if not l[3]]
    assert not bad, f"legitimate sessions failed while probed (at, client, server, ok, msg): {bad}"
