#!/usr/bin/env python3
"""make bench: ptkit against obfs4proxy, measured in one run by `ptkit bench`.

Runs obfs4 (iat-mode 0) with every phase, including the many-connections
test, then obfs3 and obfs2 throughput, and rewrites the results section of
doc/benchmarks.md (between the bench:begin and bench:end markers) with the
machine, the date, the versions, the figures and the same-run ratios. The
prose around the markers (the analysis) is kept.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys

OBFS4PROXY = "/usr/bin/obfs4proxy"


def run_bench(ptkit, args):
    cmd = [ptkit, "bench", "--pt", f"ptkit={ptkit}", "--pt", f"obfs4proxy={OBFS4PROXY}",
           "--json"] + args
    print("bench:", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800)
    sys.stderr.write(out.stderr)
    data = json.loads(out.stdout)
    return data


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {mem} RAM, Linux {platform.release()}"


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


ROWS = [
    ("single-stream throughput (MiB/s)", "single_mibs", 1, False),
    ("100-stream aggregate throughput (MiB/s)", "aggregate_mibs", 1, False),
    ("sequential handshakes/s", "seq_hs_per_s", 0, False),
    ("concurrent handshakes/s (32 loops)", "conc_hs_per_s", 0, False),
    ("handshake latency p50 (ms)", "hs_p50_ms", 2, True),
    ("handshake latency p99 (ms)", "hs_p99_ms", 2, True),
    ("RSS per idle connection pair at 1000 pairs (KiB)", "idle_kib_per_pair", 1, True),
    ("CPU seconds per GiB moved (both PTs)", "cpu_s_per_gib", 2, True),
]


def table(data, rows, extra=True):
    a, b = data["results"][0], data["results"][1]
    out = [f"| {data['transport']} | ptkit | obfs4proxy | ptkit vs obfs4proxy |",
           "|---|---:|---:|---:|"]
    for label, key, dec, lower in rows:
        x, y = a[key], b[key]
        ratio = "-"
        if a["ok"] and b["ok"] and x > 0 and y > 0:
            ratio = f"{(y / x if lower else x / y):.2f}x"
        out.append(f"| {label} | {x:.{dec}f} | {y:.{dec}f} | {ratio} |")
    out.append(f"| connection errors | {a['errors']} | {b['errors']} | |")
    if extra and data.get("conns"):
        n = data["conns"]
        out.append(f"| {n} concurrent connections: ok / failed | {a['conns_ok']} / "
                   f"{a['conns_failed']} | {b['conns_ok']} / {b['conns_failed']} | |")
        for r in (a, b):
            r["mem"] = (f"{r['rss_base_kib'] / 1024:.1f} / {r['rss_peak_kib'] / 1024:.1f} / "
                        f"{r['rss_after_kib'] / 1024:.1f}")
        out.append(f"| {n} concurrent: RSS of both PTs, before / peak / after closing (MiB) | "
                   f"{a['mem']} | {b['mem']} | |")
    return "\n".join(out)


def default_conns():
    """10,000 (issue 7), or as many as the open-files hard limit allows: the
    bench holds two descriptors per connection and needs about 2,000 more."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 10000
    return max(100, min(10000, (hard - 2000) // 2 // 100 * 100))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptkit", required=True)
    ap.add_argument("--doc", default="doc/benchmarks.md")
    ap.add_argument("--conns", type=int, default=0,
                    help="concurrent connections (default: 10000, or fewer if the "
                         "open-files hard limit is too low)")
    a = ap.parse_args()
    if a.conns <= 0:
        a.conns = default_conns()
    obfs4 = run_bench(a.ptkit, ["--conns", str(a.conns)])
    obfs4["conns"] = a.conns
    thr = [("single-stream throughput (MiB/s)", "single_mibs", 1, False),
           ("100-stream aggregate throughput (MiB/s)", "aggregate_mibs", 1, False),
           ("CPU seconds per GiB moved (both PTs)", "cpu_s_per_gib", 2, True)]
    others = {}
    for t in ("obfs3", "obfs2"):
        others[t] = run_bench(a.ptkit, ["--transport", t, "--only", "single", "--only",
                                        "aggregate"])
    now = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"Measured {now} on {machine()}, by `make bench` (`ptkit bench`, one run, both",
        "programs measured back to back; client PT, server PT and the load generator share",
        "the machine).",
        "",
        f"Versions: {version([a.ptkit, 'version'])}; {version([OBFS4PROXY, '-version'])}.",
        "",
        "### obfs4, iat-mode 0",
        "",
        table(obfs4, ROWS),
        "",
        "### obfs3 and obfs2",
        "",
        table(others["obfs3"], thr, extra=False),
        "",
        table(others["obfs2"], thr, extra=False),
    ]
    text = "\n".join(body)
    doc = open(a.doc).read() if os.path.exists(a.doc) else "<!-- bench:begin -->\n<!-- bench:end -->\n"
    new = re.sub(r"<!-- bench:begin -->.*<!-- bench:end -->",
                 "<!-- bench:begin -->\n" + text.replace("\\", "\\\\") + "\n<!-- bench:end -->",
                 doc, flags=re.S)
    open(a.doc, "w").write(new)
    print(text)
    bad = [r for d in [obfs4] + list(others.values()) for r in d["results"] if not r["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
