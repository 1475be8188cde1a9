"""End-to-end: every golden report (tests/e2e/golden/golden.json) is reproduced to the bit.

The golden file was recorded before the restructuring of issue 11; any change
of one bit in a numerical gradient, a difference, a verdict, a block row or a
hint fails here. Regenerate it only for an intended numerical change.
"""
import importlib.util
import json
import pathlib

import pytest

HERE = pathlib.Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("fastgrad_tests_golden", HERE / "make_golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

EXPECTED = json.loads((HERE / "golden.json").read_text())
CASES = dict(golden.all_cases())


def test_the_golden_file_covers_every_case():
    assert sorted(EXPECTED) == sorted(CASES)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_report_is_bit_identical(name):
    got = json.loads(json.dumps(CASES[name](), sort_keys=True))
    assert got == EXPECTED[name]
