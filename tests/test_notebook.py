"""The reports left at the end of a notebook cell show in full: IPython's
pretty printer and Jupyter's HTML get what print() gives, escaped."""

import html

import numpy as np
import pytest

import fastgrad


def grad_check_report():
    # a block named "<W>" must stay text in HTML, not become a tag
    theta = {"<W>": np.array([0.5, -1.5])}
    return fastgrad.check_grad(
        lambda t: float(np.sum(t["<W>"] ** 2)), theta, {"<W>": 3 * theta["<W>"]}
    )


def diagnosis():
    model = fastgrad.MLP([4, 6, 6, 1])
    X = np.random.default_rng(0).standard_normal((4, 32))
    return fastgrad.diagnose(model, model.init_params("random", seed=0, scale=10), X)


def distribution_report():
    rng = np.random.default_rng(0)
    norm = fastgrad.Normalizer().fit(rng.standard_normal((50, 3)))
    return norm.report(3 + rng.standard_normal((20, 3)))


class Printer:
    def __init__(self):
        self.out = []

    def text(self, s):
        self.out.append(s)


@pytest.mark.parametrize("make", [grad_check_report, diagnosis, distribution_report])
def test_a_report_shows_in_full_in_ipython_and_jupyter(make):
    r = make()
    text = str(r)
    assert text != repr(r) and "\n" in text
    p = Printer()
    r._repr_pretty_(p, False)
    assert p.out == [text]
    p = Printer()
    r._repr_pretty_(p, True)  # a report inside itself: the short form
    assert p.out == [repr(r)]
    page = r._repr_html_()
    assert page.startswith("<pre>") and page.endswith("</pre>")
    assert html.unescape(page[5:-6]) == text


def test_the_html_escapes_what_the_report_prints():
    r = grad_check_report()
    assert "<W>" in str(r)
    page = r._repr_html_()
    assert "&lt;W&gt;" in page and "<W>" not in page
