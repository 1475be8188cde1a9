"""Every Python example in README.md runs as written and prints what it shows.

The README is split into its ``## `` sections; each section's ```python
blocks run in order in one namespace (a later block may use an earlier
block's variables, as a reader following along would). Two forms:

- a block of ``>>>`` prompts runs like a doctest: each shown result is
  compared with what the code returns or prints;
- a block of plain code runs as a script; when a bare ``` block follows it
  directly, that block is its printed output and is compared too.

Comparison (:func:`same_output`): the words must match exactly (whitespace
runs count as one space); numbers must match to the digits printed (±1 in
the last digit shown; integers exactly). Two allowances for what legitimately
differs between machines: a time ("0.8 ms") is not compared, and a value at
rounding level (exponent notation below 1e-12, such as a correct gradient's
2.9e-16) only has to be at rounding level too. A table row that shows such a
value reports noise, so its other numbers (where the noise peaked) are not
compared either.

The README's set-up commands (the ``<!-- ci:main -->`` and
``<!-- ci:test -->`` markers CI reads) are checked to be unchanged.
"""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
ROUNDOFF = 1e-12
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?(?![\w.])")
_TIME = re.compile(r"\s*(?:ms|s|µs|us)\b")


# -- parsing ----------------------------------------------------------------
def _blocks(text):
    """``[(section, lang, code, line)]`` for every fenced block, in order."""
    out, section, lines, i = [], "(top)", text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append((section, fence.group(1), "\n".join(body) + "\n", start + 1))
        i += 1
    return out


def _directly_after(text, line_no):
    """True when only blank lines separate the fence closing at/after ``line_no``
    from the next fence."""
    lines = text.splitlines()
    i = line_no - 1
    while not lines[i].startswith("```"):
        i += 1
    i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and lines[i].startswith("```")


def examples():
    """``{section: [(kind, code, expected_output_or_None, line)]}``."""
    text = README.read_text(encoding="utf-8")
    blocks = _blocks(text)
    sections = {}
    for k, (section, lang, code, line) in enumerate(blocks):
        if lang != "python":
            continue
        kind = "doctest" if code.lstrip().startswith(">>>") else "script"
        expected = None
        if (kind == "script" and k + 1 < len(blocks) and blocks[k + 1][1] == ""
                and _directly_after(text, line)):
            expected = blocks[k + 1][2]
        sections.setdefault(section, []).append((kind, code, expected, line))
    return sections


# -- comparison -------------------------------------------------------------
def _last_digit(token):
    """One unit in the last printed digit of a decimal or scientific token."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def _split(line):
    """(words, numbers as (token, value, is_time)) of one line."""
    words, numbers, pos = [], [], 0
    for m in _NUMBER.finditer(line):
        words.append(line[pos:m.start()])
        is_time = bool(_TIME.match(line, m.end()))
        numbers.append((m.group(), float(m.group()), is_time))
        pos = m.end()
    words.append(line[pos:])
    return [" ".join(w.split()) for w in words], numbers


def _is_roundoff(token, value):
    return "e" in token.lower() and abs(value) < ROUNDOFF


def _same_line(want, got):
    w_words, w_nums = _split(want)
    g_words, g_nums = _split(got)
    if w_words != g_words or len(w_nums) != len(g_nums):
        return False
    noise_row = any(_is_roundoff(t, v) for t, v, _ in w_nums)
    for (wt, wv, time), (gt, gv, _) in zip(w_nums, g_nums):
        if time:
            continue
        if _is_roundoff(wt, wv):
            if abs(gv) >= ROUNDOFF:
                return False
        elif noise_row:
            continue
        elif "." not in wt and "e" not in wt.lower():
            if wt.lstrip("+") != gt.lstrip("+"):
                return False
        elif abs(gv - wv) > _last_digit(wt) * (1 + 1e-9):
            return False
    return True


def same_output(want, got):
    """True when ``got`` is what ``want`` shows (see the module docstring)."""
    w = [line.rstrip() for line in want.strip("\n").splitlines()]
    g = [line.rstrip() for line in got.strip("\n").splitlines()]
    return len(w) == len(g) and all(_same_line(a, b) for a, b in zip(w, g))


# -- running ----------------------------------------------------------------
def _prompt_examples(code):
    """``[(source, shown_output)]`` of a ``>>>`` block. Unlike the doctest
    module, a blank line does not end the output: everything up to the next
    prompt is (so the README needs no ``<BLANKLINE>`` markers)."""
    examples = []
    for line in code.splitlines():
        if line.startswith(">>>"):
            examples.append(([line[4:]], []))
        elif line.startswith("...") and examples and not examples[-1][1]:
            examples[-1][0].append(line[4:])
        elif examples:
            examples[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"text before the first prompt: {line!r}")
    return [("\n".join(src) + "\n", "\n".join(want)) for src, want in examples]


def _run_prompts(code, namespace, line):
    examples = _prompt_examples(code)
    for source, want in examples:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            # "single" mode echoes an expression's repr, as the interpreter does
            exec(compile(source, f"README.md:{line}", "single"), namespace)
        assert same_output(want, printed.getvalue()), (
            f"README.md block at line {line}:\n>>> {source}gives\n{printed.getvalue()}\n"
            f"but the README shows\n{want}")
    return len(examples)


def _run_script(code, expected, namespace, line):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
    if expected is not None:
        assert same_output(expected, printed.getvalue()), (
            f"README.md line {line} prints\n{printed.getvalue()}\nbut the README shows\n{expected}")


SECTIONS = examples()


def test_the_readme_has_its_examples():
    kinds = [kind for blocks in SECTIONS.values() for kind, *_ in blocks]
    assert len(kinds) >= 8 and "doctest" in kinds and "script" in kinds
    with_output = [e for blocks in SECTIONS.values() for kind, _, e, _ in blocks
                   if kind == "script" and e is not None]
    assert len(with_output) >= 2


@pytest.mark.parametrize("section", list(SECTIONS))
def test_readme_section_runs_as_written(section, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    namespace = {"__name__": "__readme__"}
    for kind, code, expected, line in SECTIONS[section]:
        if kind == "doctest":
            assert _run_prompts(code, namespace, line) > 0
        else:
            _run_script(code, expected, namespace, line)


def test_ci_setup_commands_are_unchanged():
    text = README.read_text(encoding="utf-8")
    assert "<!-- ci:main -->\n```\npip install . && fastgrad check\n```" in text
    assert '<!-- ci:test -->\n```\npip install ".[test]" && pytest\n```' in text


# -- the comparison itself --------------------------------------------------
@pytest.mark.parametrize("want, got, same", [
    ("difference = 2.851e-01  ->  BUG", "difference = 2.851e-01  ->  BUG", True),
    ("difference = 2.851e-01  ->  BUG", "difference = 2.852e-01  ->  BUG", True),   # last digit
    ("difference = 2.851e-01  ->  BUG", "difference = 2.854e-01  ->  BUG", False),
    ("difference = 2.851e-01  ->  BUG", "difference = 2.851e-01  ->  GREAT", False),
    ("('great', '2.9e-16')", "('great', '4.1e-16')", True),                        # rounding level
    ("('great', '2.9e-16')", "('great', '2.9e-08')", False),
    ("('bug', 0.00935)", "('bug', 0.00936)", True),
    ("('bug', 0.00935)", "('bug', 0.0094)", False),
    ("1 thread(s) | 0.4 ms", "1 thread(s) | 12.7 ms", True),                      # a time
    ("dW1  5x4  20  2.26e-16  6.66e-16  [0, 0]  -0.373478  -0.373478",
     "dW1  5x4  20  1.76e-16  5.27e-16  [0, 2]  0.175961  0.175961", True),         # a noise row
    ("dW1  5x4  20  2.26e-16  6.66e-16  [0, 0]  -0.373478  -0.373478",
     "dW1  5x4  20  2.26e-08  6.66e-16  [0, 0]  -0.373478  -0.373478", False),
    ("db1  5x1  5  6.00e-01  1.90e+00  [0, 0]  0.632908  2.53163  <--",
     "db1  5x1  5  6.00e-01  1.90e+00  [0, 1]  0.632908  2.53163  <--", False),    # index
    ("db1  5x1  5  6.00e-01", "db1  5x2  5  6.00e-01", False),                       # shape
    ("(2, 200)", "(2, 201)", False),
    ("a\nb", "a", False),
    ("| 1  | 0.200434 |", "|  1 |  0.200434  |", True),                              # spacing
])
def test_same_output(want, got, same):
    assert same_output(want, got) is same


def test_fences_pair_up():
    """Every code block closes with a bare ``` (text after a closing fence
    would leave the block open on GitHub and swallow the rest of the page)."""
    inside = False
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if inside:
                assert line.rstrip() == "```", f"README.md line {number}: {line!r}"
            else:
                assert re.fullmatch(r"```[\w+-]*", line.rstrip()), f"README.md line {number}"
            inside = not inside
    assert not inside
