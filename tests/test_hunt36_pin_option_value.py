"""The PIN typed after `--pin` is its own word of the command line: four digits, which
read alone are no PIN. When another option's value or an argument takes it (a reason
left out: `rm --reason --pin NNNN` takes the PIN for the ID, `import csv --correct
--pin NNNN …` for the FILE), the line that quotes it must mask it as every other
quoting of a typed PIN is masked (docs/spec.md §4: "No error, warning or status line
… quotes a PIN typed as an argument"). A hunter's find, issue 18 thirty-sixth pass; the
commands themselves are rows of tests/test_quoted_pins.py."""

from __future__ import annotations

from expflow_git.errors import masked_output, masked_quoting

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


def test_only_the_word_after_pin_is_read_so() -> None:
    line = f"metric = {PIN}.0 is above its max 1; seed 1000"
    typed = ["result", "r", "--pin", PIN, "--metric", f"m={PIN}", "--seed", "1000"]
    assert masked_output(line, typed) == "metric = ****.0 is above its max 1; seed 1000"
    # Four digits after another option stay, as before.
    assert masked_output("seed 1000", ["--seed", "1000", "--pin"]) == "seed 1000"


def test_a_terminal_table_masks_it_in_the_lines_quoting_it() -> None:
    """`masked_quoting` (a report or table as a terminal shows it) masks the digits in a
    line that quotes the argument holding them: the word typed after `--pin` is that
    argument, whole (a review)."""
    typed = ["rm", "--reason", "--pin", PIN]
    assert masked_quoting(f"x '{PIN}' y\nseed 1000", typed) == "x '****' y\nseed 1000"
    assert masked_quoting(f"x '{PIN}' y", ["rm", "--reason", "--seed", PIN]) == f"x '{PIN}' y"
