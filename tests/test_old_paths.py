"""The old import paths (fastgrad.activations, .model, .params, .report,
.normalizer, .train, .init) are re-export modules: each hands on the very
objects of the module that now holds the code."""
import importlib

import pytest

import fastgrad

OLD_TO_NEW = {
    "fastgrad.activations": "fastgrad.nn.activations",
    "fastgrad.model": "fastgrad.nn.model",
    "fastgrad.params": "fastgrad.nn.spec",
    "fastgrad.report": "fastgrad.gradcheck.report",
    "fastgrad.normalizer": "fastgrad.normalize.normalizer",
    "fastgrad.train": "fastgrad.training",
    "fastgrad.init": "fastgrad.nn.init",
}


@pytest.mark.parametrize("old, new", sorted(OLD_TO_NEW.items()))
def test_old_path_hands_on_the_same_objects(old, new):
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    public = getattr(new_mod, "__all__", [n for n in vars(new_mod) if not n.startswith("_")])
    assert public
    for name in public:
        assert getattr(old_mod, name) is getattr(new_mod, name), (old, name)


def test_the_listed_public_names():
    assert fastgrad.model.MLP is fastgrad.MLP
    assert fastgrad.params.params_to_vector is fastgrad.params_to_vector
    assert fastgrad.train.gradient_descent is fastgrad.training.gradient_descent
    assert fastgrad.init.lsuv is importlib.import_module("fastgrad.nn.lsuv").lsuv
    assert fastgrad.optim.fit is fastgrad.training.fit


def test_package_all_lists_each_name_once_and_each_exists():
    assert len(fastgrad.__all__) == len(set(fastgrad.__all__))
    for name in fastgrad.__all__:
        assert hasattr(fastgrad, name), name
