import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import ptkit_harness as h  # noqa: E402


@pytest.fixture
def pts(tmp_path):
    """Start PTs; every one is stopped (SIGTERM, then SIGKILL) at teardown."""
    started = []

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
