"""What every test shares: the CPU variant, a transport cache of this test run, Ray kept
on the loopback address, the grouping of tests for pytest-xdist, and a small height map on
disk."""
import os
from pathlib import Path

import pytest

import scratchlight
from scratchlight.user_cache import cache_root
from surface_helpers import feed_marks

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
_ROOT_BASEID = Path(__file__).parent.relative_to(REPO).as_posix()  # "tests": this file's fixtures

# Compiled kernels (numba) depend on their source alone: the tests keep them where
# scratchlight keeps them for the user (<cache root>/numba), so that a test run and its CLI
# subprocesses load them instead of compiling them again (10-25 s a process). Set before
# numba is imported; the transport matrices still go to this run's folder (below).
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(cache_root(), "numba"))

# Every Ray instance a test starts stays on 127.0.0.1 (Ray reads this when it is imported;
# otherwise it swaps a loopback address for the machine's network address), and its workers
# run at normal priority: at Ray's nice 15 they get a few per cent of a core beside the
# other test worker, and a two-second test takes two minutes.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_worker_niceness"] = "0"


@pytest.fixture(scope="session", autouse=True)
def _cpu_variant():
    scratchlight.use_device("auto")


@pytest.fixture(scope="session", autouse=True)
def _transport_cache(tmp_path_factory):
    """Transport matrices built by the tests (engine 'auto' is the default) go to a folder
    of this test run, not the user's cache; CLI subprocesses inherit it. Under pytest-xdist
    the workers share that folder (the cache locks a key while one process builds it), so
    a matrix two workers need is built once."""
    old = os.environ.get("SCRATCHLIGHT_CACHE")
    base = tmp_path_factory.getbasetemp()
    # a worker's base temp is <this run's folder>/<worker id>
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "scratchlight-cache"
    folder.mkdir(exist_ok=True)
    os.environ["SCRATCHLIGHT_CACHE"] = str(folder)
    yield
    if old is None:
        os.environ.pop("SCRATCHLIGHT_CACHE", None)
    else:
        os.environ["SCRATCHLIGHT_CACHE"] = old


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (its hook, same name)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test``: ``--dist loadgroup``), tests that share a fixture
    built once per module or per session (a Ray cluster, a studio server, a transport
    matrix) run on one worker, so that it is built once and never twice at the same time;
    the other tests are dealt out one by one. The group is the fixture's folder or module
    (the widest one if several); the root conftest's fixtures (every test's) do not count.
    Modules with slow tests are dealt first."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group"):
            continue  # a group the test names itself (e.g. "ray": one cluster at a time)
        homes = {d.baseid for defs in info.name2fixturedefs.values() for d in defs
                 if d.scope != "function" and d.baseid not in ("", _ROOT_BASEID)}
        if homes:
            item.add_marker(pytest.mark.xdist_group(min(homes, key=lambda h: (len(h), h))))
    # modules with long (slow) tests first, the quick modules last: workers are handed tests
    # in this order, and quick tests at the end even out when the workers finish. Whole
    # modules move, in a stable sort: a module's tests keep their order (some share state)
    slow_modules = {item.module.__name__ for item in items
                    if item.get_closest_marker("slow") and getattr(item, "module", None)}
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "")
               not in slow_modules)


def pytest_collection_finish(session):
    """pytest-xdist sends a group to one worker by suffixing its tests' node ids with
    '@group'; a pytest it does not fit (9.x renamed the node id it writes) drops the suffix
    without a word, and every shared fixture is then built once per worker. Say so instead."""
    config = session.config
    if not getattr(config.option, "loadgroup", False):  # set on pytest-xdist's workers
        return
    grouped = [item for item in session.items if item.get_closest_marker("xdist_group")]
    if grouped and "@" not in grouped[0].nodeid:
        raise pytest.UsageError(
            f"pytest-xdist {_version('pytest-xdist')} did not apply --dist loadgroup under "
            f"pytest {pytest.__version__}: install the versions in requirements.lock")


def _version(dist):
    from importlib.metadata import version
    return version(dist)


@pytest.fixture
def feed_marks_npz(tmp_path):
    from scratchlight.io import write_npz

    path = tmp_path / "feed.npz"
    write_npz(str(path), feed_marks())
    return path
