#!/usr/bin/env python3
"""conformance: run `ptkit check` against ptkit, Debian's obfs4proxy and
snowflake-client and rewrite the generated parts of doc/conformance.md:

  <!-- check:NAME -->  ...  <!-- /check:NAME -->   the table `ptkit check` printed
  <!-- cases -->  ...  <!-- /cases -->             the list of cases, from the .case files

`make conformance` runs this inside a private network namespace
(scripts/in-netns); `ptkit check` also makes its own. A program that is not
installed gets a note instead of a table. The exit status of `ptkit check`
(1 when a MUST case fails) is recorded, not treated as an error here.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

RUNS = [
    ("ptkit-client", "ptkit", ["--client", "--transport", "plain"]),
    ("ptkit-server", "ptkit", ["--server", "--transport", "plain"]),
    ("obfs4proxy-client", "obfs4proxy", ["--client", "--transport", "obfs4"]),
    ("obfs4proxy-server", "obfs4proxy", ["--server", "--transport", "obfs4"]),
    ("snowflake-client", "snowflake-client", ["--client", "--transport", "snowflake"]),
]


def run_check(ptkit, prog, args):
    shown = "build/ptkit" if prog == ptkit else prog
    cmd = [ptkit, "check"] + args + ["--", prog]
    p = subprocess.run(cmd, capture_output=True, timeout=600,
                       env=dict(os.environ, PTKIT_CHECK_CASES=os.path.join(ROOT, "tests",
                                                                           "conformance")))
    out = p.stdout.decode(errors="replace").replace(ptkit, "build/ptkit")
    text = "$ ptkit check %s -- %s\n%s(exit status %d)\n" % (" ".join(args), shown, out,
                                                              p.returncode)
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode not in (0, 1):
        text += "stderr: %s\n" % err
    return text


def case_list():
    rows = []
    cdir = os.path.join(ROOT, "tests", "conformance")
    for fn in sorted(os.listdir(cdir)):
        if not fn.endswith(".case"):
            continue
        cur = None
        with open(os.path.join(cdir, fn)) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                kw, _, val = line.partition(" ")
                val = val.strip()
                if kw == "case":
                    cur = {"id": val, "file": fn, "needs": ""}
                    rows.append(cur)
                elif cur is not None and kw in ("title", "section", "level", "role", "needs"):
                    cur[kw] = val
    out = ["| case | file | role | level | section | what is checked |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        title = r["title"] + (" *(needs %s)*" % r["needs"] if r["needs"] else "")
        out.append("| `%s` | %s | %s | %s | %s | %s |" % (r["id"], r["file"], r["role"],
                                                          r["level"], r["section"],
                                                          title.replace("|", "\\|")))
    return "\n".join(out) + "\n"


def replace_block(doc, name, body):
    start, end = "<!-- %s -->" % name, "<!-- /%s -->" % name
    pat = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pat.search(doc):
        raise SystemExit("conformance: doc has no %s ... %s block" % (start, end))
    return pat.sub(lambda m: start + "\n" + body + end, doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptkit", default=os.path.join(ROOT, "build", "ptkit"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "doc", "conformance.md"))
    a = ap.parse_args()
    ptkit = os.path.abspath(a.ptkit)
    with open(a.doc) as f:
        doc = f.read()
    doc = replace_block(doc, "cases", case_list())
    for name, prog, args in RUNS:
        path = ptkit if prog == "ptkit" else shutil.which(prog)
        if not path:
            body = "*%s is not installed here (apt-get install %s); no results.*\n" % (prog, prog)
        else:
            print("conformance: %s" % name, file=sys.stderr)
            body = "```text\n" + run_check(ptkit, path, args) + "```\n"
        doc = replace_block(doc, "check:" + name, body)
    with open(a.doc, "w") as f:
        f.write(doc)
    print("conformance: rewrote %s" % os.path.relpath(a.doc, ROOT), file=sys.stderr)


if __name__ == "__main__":
    main()
