import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import ptkit_harness as h  # noqa: E402


# obfs4proxy 0.0.14's iat-mode=2 writer panics when its padding-length table
# draws a 0 (obfs4.go: "BUG: Write(), iat length was 0"); a table holds 0 for
# about one seed in 30, so any test where obfs4proxy writes in iat-mode=2 can
# lose its peer that way. See doc/obfs4.md.
OBFS4PROXY_IAT_PANIC = "panic: BUG: Write(), iat length was 0"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test during which a PT started through `pts` was obfs4proxy and
    died of that known upstream panic is reported as xfail, naming it; any
    other failure stays a failure."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    for pt in getattr(item, "_ptkit_started", []):
        if "obfs4proxy" not in os.path.basename(pt.argv[0]):
            continue
        if pt.proc.poll() is not None:
            pt._errt.join(2.0)  # the exited process's stderr is read to its end
        if OBFS4PROXY_IAT_PANIC in pt.stderr:
            rep.outcome = "skipped"
            rep.wasxfail = ("obfs4proxy (pid %d) panicked: %s (upstream bug, doc/obfs4.md)"
                            % (pt.pid, OBFS4PROXY_IAT_PANIC[7:]))
            return


@pytest.fixture
def pts(request):
    """Start PTs; every one is stopped (SIGTERM, then SIGKILL) at teardown."""
    started = []
    request.node._ptkit_started = started

    def start(env, argv=None, exe=None):
        pt = h.PT(env, argv, exe)
        started.append(pt)
        return pt

    yield start
    for pt in started:
        pt.stop()


@pytest.fixture
def servers():
    made = []

    def make(obj):
        made.append(obj)
        return obj

    yield make
    for s in made:
        s.close()
