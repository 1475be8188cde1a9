"""fastgrad._table: the one table renderer, against tables written out here."""
from fastgrad._table import markdown_table, table


def test_plain_table_pads_aligns_and_rules():
    lines = table(["name", "value"], [["a", "1.5"], ["long name", "10"]])
    assert lines == ["name       value", "---------  -----", "a            1.5",
                     "long name     10"]


def test_left_aligned_without_rule_strips_trailing_blanks():
    lines = table(["block", "shape"], [["dW1", "3x2"], ["db1 *", "3x1"]], left=None, rule=False)
    assert lines == ["block  shape", "dW1    3x2", "db1 *  3x1"]
    assert table(["h"], [], left=None, rule=False) == ["h"]


def test_markdown_table():
    assert markdown_table(["a", "bb"], [["ccc", "d"]]) == [
        "| a   | bb |", "|-----|----|", "| ccc | d  |"]
