"""End-to-end: every golden report (tests/e2e/golden/golden.json) is reproduced to the bit.

The golden file was recorded before the restructuring of issue 11; any change
of one bit in a numerical gradient, a difference, a verdict, a block row or a
hint fails here. Regenerate it only for an intended numerical change.

To the bit only where the arithmetic underneath is the one the file was
recorded with (the fingerprint in golden/golden_env.json): NumPy's exp, log,
log1p, expm1 and sums differ by an ulp or two between NumPy versions (1.x and
2.x) and CPU feature sets (NumPy 2.4 without AVX2), and those ulps reach every
report (a finite difference divides them by epsilon). Elsewhere each report
is compared for what a gradient check can promise: the same words, verdicts,
hints, block names, shapes and counts; numbers to 1e-7 relative (an order
below the "great" threshold; values below 1e-12 only have to be that small
too); and where an error is below the "great" threshold it is rounding and
truncation noise, so it only has to stay below it, and the coordinate where
it peaked is not compared.
"""
import importlib.util
import json
import pathlib
import re

import pytest

HERE = pathlib.Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("fastgrad_tests_golden", HERE / "make_golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

EXPECTED = json.loads((HERE / "golden.json").read_text())
CASES = dict(golden.all_cases())
RECORDED = json.loads((HERE / "golden_env.json").read_text())
SAME_ARITHMETIC = golden.arithmetic_fingerprint() == RECORDED["fingerprint"]

RTOL = 1e-7
ROUNDOFF = 1e-12
_HEX = re.compile(r"-?0x[0-9a-f]+(\.[0-9a-f]*)?p[-+]\d+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?(?![\w.])")
_ERRORS = {"difference", "difference_all", "max_abs_error"}
_WORST = {"worst_index", "worst_numerical", "worst_analytic"}


def test_the_golden_file_covers_every_case():
    assert sorted(EXPECTED) == sorted(CASES)


def _float(value):
    return float.fromhex(value) if isinstance(value, str) and _HEX.fullmatch(value) else None


def _words(text):
    return _NUMBER.sub("#", text).split()


def differences(got, want, path="", great=None):
    """The paths where ``got`` differs from ``want`` by more than rounding."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or got.keys() != want.keys():
            return [path]
        if "thresholds" in want:
            great = _float(want["thresholds"][0])
        noise = (great is not None and "difference" in want
                 and _float(want["difference"]) < great)
        out = []
        for key in want:
            where = f"{path}/{key}"
            if noise and key in _WORST:
                continue
            if key in _ERRORS and great is not None and _float(want[key]) < great:
                if not (_float(got[key]) is not None and _float(got[key]) < great):
                    out.append(where)
            elif key == "text":
                if _words(got[key]) != _words(want[key]):
                    out.append(where)
            else:
                out += differences(got[key], want[key], where, great)
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [path]
        return [p for i, (g, w) in enumerate(zip(got, want))
                for p in differences(g, w, f"{path}[{i}]", great)]
    g, w = _float(got), _float(want)
    if g is None or w is None:
        return [] if got == want else [path]
    size = max(abs(g), abs(w))
    return [] if abs(g - w) <= RTOL * size or size < ROUNDOFF else [path]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_report_is_bit_identical(name):
    got = json.loads(json.dumps(CASES[name](), sort_keys=True))
    if SAME_ARITHMETIC:
        assert got == EXPECTED[name]
    else:
        assert differences(got, EXPECTED[name]) == [], (
            f"beyond rounding (this arithmetic differs from that of NumPy "
            f"{RECORDED['numpy']}, where golden.json was recorded)")


def test_a_report_off_by_more_than_rounding_is_caught():
    want = EXPECTED["mlp/tanh/sigmoid/l2/full"]
    got = json.loads(json.dumps(want))
    got["report"]["numerical"]["dW1"]["data"][0] = (
        _float(want["report"]["numerical"]["dW1"]["data"][0]) * (1 + 1e-6)).hex()
    got["buggy"]["verdict"] = "great"
    assert differences(got, want) == ["/buggy/verdict", "/report/numerical/dW1/data[0]"]
