"""threadpoolctl.threadpool_limits caps fastgrad's own OpenMP pool.

fastgrad registers a threadpoolctl controller (user_api "openmp",
internal_api "fastgrad") for its ``_openmp_helpers`` extension, found by the
exported symbol ``fastgrad_openmp_build``.
"""
import os

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from fastgrad import _openmp_helpers  # noqa: E402
from fastgrad._threads import effective_n_threads, set_thread_limit, usable_cores  # noqa: E402

needs_register = pytest.mark.skipif(not hasattr(threadpoolctl, "register"),
                                    reason="threadpoolctl without register()")


def _fastgrad_pools():
    return [p for p in threadpoolctl.threadpool_info() if p["internal_api"] == "fastgrad"]


def _full():
    """What effective_n_threads(-1) gives with no limit in force."""
    return usable_cores() if _openmp_helpers.openmp_enabled() else 1


@needs_register
def test_fastgrad_pool_is_listed_once_with_its_file():
    pools = _fastgrad_pools()
    assert len(pools) == 1
    pool = pools[0]
    assert pool["user_api"] == "openmp"
    assert os.path.realpath(pool["filepath"]) == os.path.realpath(_openmp_helpers.__file__)
    assert pool["num_threads"] == _full()
    assert pool["openmp"] is _openmp_helpers.openmp_enabled()


@needs_register
@pytest.mark.parametrize("kwargs", [{"limits": 1}, {"limits": 1, "user_api": "openmp"},
                                    {"limits": {"_openmp_helpers": 1}}])
def test_threadpool_limits_caps_and_restores(kwargs):
    assert effective_n_threads(-1) == _full()
    with threadpoolctl.threadpool_limits(**kwargs):
        assert effective_n_threads(-1) == 1
        assert effective_n_threads(None) == 1
        assert effective_n_threads(4) == 1
        assert _fastgrad_pools()[0]["num_threads"] == 1
    assert effective_n_threads(-1) == _full()
    assert _fastgrad_pools()[0]["num_threads"] == _full()


@needs_register
def test_blas_only_limit_leaves_fastgrad_alone():
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert effective_n_threads(-1) == _full()


def test_thread_limit_argument_checks():
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="n must be a positive int or None"):
            set_thread_limit(bad)
    set_thread_limit(None)
    assert effective_n_threads(-1) == _full()


@needs_register
def test_other_openmp_helpers_module_is_not_taken_for_fastgrad(tmp_path):
    """scikit-learn has an ``_openmp_helpers`` extension too; without the
    exported symbol it must not appear as fastgrad's pool."""
    sklearn_helpers = pytest.importorskip("sklearn.utils._openmp_helpers")
    pools = _fastgrad_pools()
    assert [os.path.realpath(p["filepath"]) for p in pools] == [
        os.path.realpath(_openmp_helpers.__file__)]
    assert os.path.realpath(sklearn_helpers.__file__) not in {p["filepath"] for p in pools}
