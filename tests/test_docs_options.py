"""Every option a command's `--help` lists is in the docs' synopsis of that command: the
command table of README.md ("## Commands") and of docs/spec.md (§4, with §4.2's
`import` synopses), or the sentence under each table that gives the options common to
many commands (`--policy FILE`, `-h`/`--help`). `--policy FILE` of fifteen commands,
`--pin`/`--force` of `result`, `rm`, `cancel` and `protect`, `new --condition`,
`--replicate` and `--title` (README) and the importers' `--series`, `--dry-run`,
`--correct`, `--pin` and `--force` (spec) were left out (issue 18, twenty-sixth pass).

The options are read from the click commands themselves (`expflow_git.cli.group`), so a
new option fails here until the docs name it."""

from __future__ import annotations

import re

import click
import pytest
from conftest import PROJECT

from expflow_git.cli.group import cli

_SPAN = re.compile(r"`([^`]+)`")


def commands() -> dict[str, click.Command]:
    """Every command by its path (`rank`, `pin init`, `import csv`)."""
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: str, ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ", click.Context(command, parent=ctx))
            else:
                found[f"{prefix}{name}"] = command

    walk(cli, "", click.Context(cli))
    return found


def options(command: click.Command) -> list[str]:
    """The option names of `command` (both spellings of an on/off flag); `--help`, which
    click adds outside `params`, is the common sentence's."""
    names: list[str] = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            names += [*param.opts, *param.secondary_opts]
    return names


def section(text: str, heading: str) -> str:
    """`text` from `heading` to the next heading of any level."""
    start = text.index(f"\n{heading}\n")
    end = re.compile(r"^#{1,6} ", re.M).search(text, start + len(heading) + 2)
    return text[start : end.start() if end else len(text)]


def table(text: str) -> str:
    """The first Markdown table of `text` whose header is `| command | does |`."""
    start = text.index("| command | does |")
    return text[start:].split("\n\n", 1)[0]


def synopses(text: str, groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """Command path → its synopses: each code span of `text` that starts with a command's
    name; a group's span (`pin init …\\|check …`) is cut at each subcommand's name."""
    found: dict[str, list[str]] = {}
    for span in _SPAN.findall(text):
        span = " ".join(span.split())  # a code span may go over lines
        name, _, rest = span.partition(" ")
        if name in groups:
            subs = "|".join(map(re.escape, groups[name]))
            for part in re.split(rf"\\\|(?=(?:{subs})\b)", rest):
                sub = part.split(" ", 1)[0]
                if sub in groups[name]:
                    found.setdefault(f"{name} {sub}", []).append(part)
        else:
            found.setdefault(name, []).append(span)
    return found


def common(text: str) -> tuple[set[str], str]:
    """The common-options sentence under a table: the commands it leaves out of
    `--policy FILE`, and the sentence."""
    found = re.search(
        r"Every\s+command\s+but\s+(.*?)\s+also\s+takes\s+`--policy FILE`.*?\n\n", text, re.S
    )
    assert found is not None, "no sentence giving the options common to the commands"
    return set(_SPAN.findall(found.group(1))), found.group(0)


def documented(doc: str) -> tuple[dict[str, list[str]], set[str], str]:
    """A document's synopses, the commands without `--policy`, the common sentence."""
    text = (PROJECT / doc).read_text(encoding="utf-8")
    groups: dict[str, list[str]] = {}
    for path in commands():
        group, _, sub = path.partition(" ")
        if sub:
            groups.setdefault(group, []).append(sub)
    if doc == "README.md":
        part = section(text, "## Commands")
        rows = table(part)
    else:
        part = section(text, "## 4. The CLI")
        rows = table(part)
        imports = section(text, "### 4.2 Importing runs (`import`)")
        rows += "\n" + "\n".join(re.findall(r"^- (`import [^`]+`)", imports, re.M))
    without_policy, sentence = common(part)
    return synopses(rows, groups), without_policy, sentence


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


DOCS = ["README.md", "docs/spec.md"]


def test_the_commands_are_read() -> None:
    found = commands()
    assert {"rank", "pin init", "import csv", "rm"} <= set(found)
    assert "--policy" in options(found["rank"]) and "--descending" in options(found["rank"])
    table_of, without_policy, _ = documented("docs/spec.md")
    assert "--study-as" in " ".join(table_of["import optuna"])
    assert "--pin OLD" in " ".join(table_of["pin init"])
    assert "init" in without_policy


@pytest.mark.parametrize("doc", DOCS)
def test_every_option_of_every_command_is_in_the_docs(doc: str) -> None:
    table_of, without_policy, sentence = documented(doc)
    assert "`-h`/`--help`" in sentence, sentence
    missing = []
    for path, command in sorted(commands().items()):
        assert path in table_of, f"{doc}: no synopsis of `{path}`"
        text = " ".join(table_of[path])
        for option in options(command):
            if option == "--policy" and path.split()[0] not in without_policy:
                continue  # the common sentence's
            if not mentions(text, option):
                missing.append(f"{path} {option}")
    assert missing == [], f"{doc} leaves out: {', '.join(missing)}"


@pytest.mark.parametrize("doc", DOCS)
def test_the_common_sentence_names_exactly_the_commands_without_policy(doc: str) -> None:
    _, without_policy, _ = documented(doc)
    lacking = set()
    for path, command in commands().items():
        if "--policy" not in options(command):
            lacking.add(path.split()[0])
    # A group is named whole: none of its commands may then take --policy.
    for path, command in commands().items():
        if path.split()[0] in lacking:
            assert "--policy" not in options(command), path
    assert without_policy == lacking
