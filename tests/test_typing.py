"""fastgrad._typing: the aliases of the public API resolve in the public
signatures, and an optimizer satisfies the Optimizer protocol structurally."""
import typing

import numpy as np
import pytest

import fastgrad
from fastgrad import _typing
from fastgrad.optim import Adam


def test_public_signatures_resolve():
    for fn in (fastgrad.training.fit, fastgrad.training.gradient_descent, fastgrad.MLP.__init__,
               fastgrad.MLP.init_params):
        hints = typing.get_type_hints(fn)
        assert hints, fn
    assert typing.get_type_hints(fastgrad.training.fit)["params"] == _typing.Params
    assert typing.get_type_hints(fastgrad.MLP.init_params)["seed"] == _typing.Seed


def test_seed_alias_names_the_three_kinds():
    assert set(typing.get_args(_typing.Seed)) == {int, np.random.Generator, type(None)}


def test_the_checks_say_they_take_an_executor_or_a_client_as_workers():
    from concurrent.futures import Executor

    for fn in (fastgrad.check_grad, fastgrad.gradient_check):
        hint = typing.get_type_hints(fn)["workers"]
        assert set(typing.get_args(hint)) == {int, Executor, _typing.DaskClient, type(None)}


def test_a_dask_client_is_a_dask_client_by_its_methods():
    distributed = pytest.importorskip("distributed")
    assert issubclass(distributed.Client, _typing.DaskClient)


def test_an_optimizer_has_what_the_protocol_asks():
    opt = Adam(0.1)
    members = {"learning_rate", "step"}
    assert members <= set(dir(opt))
    assert set(_typing.Optimizer.__annotations__) | {"step"} == members
