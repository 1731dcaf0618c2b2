"""The command line's conventions: help on a bare command, readable metavars, shell completion,
DEDUP_* environment variables under the flags, and a start that imports nothing heavy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.testing import CliRunner

from dedup.cli import app
from dedup.cli.options import SettingValues, to_settings
from dedup.config import CACHE_ENV, MODEL_ENV

ROOT = Path(__file__).parent.parent
ARTICLES = str(ROOT / "samples" / "articles")
README = (ROOT / "README.md").read_text(encoding="utf-8")
runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app, list(args), input=stdin, env={**ENV, **(env or {})}, prog_name="dedup"
    )


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = list(commands(ROOT_COMMAND))
# The options of the shell rather than of dedup: no variable sets them.
NO_VARIABLE = {"--help", "--version", "--install-completion", "--show-completion"}


def options() -> Iterator[tuple[str, TyperOption]]:
    """Each option of each command, by its long flag."""
    for _, command in COMMANDS:
        for param in command.params:
            if isinstance(param, TyperOption):
                flag = next(o for o in param.opts if o.startswith("--"))
                if flag not in NO_VARIABLE:
                    yield flag, param


# A bare command prints its help.


@pytest.mark.parametrize("words", [(), ("evaluate",)], ids=["dedup", "dedup evaluate"])
def test_a_bare_group_prints_its_help_and_succeeds(words: tuple[str, ...]) -> None:
    bare = invoke(*words)
    assert (bare.exit_code, bare.stderr) == (0, "")
    assert bare.stdout == invoke(*words, "--help").stdout
    assert bare.stdout.startswith(
        f"Usage: {' '.join(('dedup', *words))} [OPTIONS] COMMAND [ARGS]...\n"
    )


def test_a_bare_group_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dedup"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: dedup [OPTIONS] COMMAND [ARGS]...\n")
    assert "Commands:\n  cluster " in done.stdout


def test_a_command_without_its_paths_is_still_a_usage_error() -> None:
    result = invoke("cluster")
    assert (result.exit_code, result.stderr) == (2, "Error: Missing argument 'PATH...'.\n")


# Metavars.


def test_usage_lines_name_their_arguments() -> None:
    usage = {
        words: invoke(*words, "--help").stdout.splitlines()[0]
        for words, _ in COMMANDS
        if words and words not in (("evaluate",), ("store",))
    }
    assert usage == {
        ("cluster",): "Usage: dedup cluster [OPTIONS] PATH...",
        ("report",): "Usage: dedup report [OPTIONS]",
        ("distill",): "Usage: dedup distill [OPTIONS]",
        ("tune",): "Usage: dedup tune [OPTIONS] [LABELS...]",
        ("evaluate", "pairs"): "Usage: dedup evaluate pairs [OPTIONS] FILE",
        ("evaluate", "clusters"): "Usage: dedup evaluate clusters [OPTIONS] PATH...",
        ("store", "remove"): "Usage: dedup store remove [OPTIONS] ID...",
    }


@pytest.mark.parametrize("words", [w for w, _ in COMMANDS], ids=lambda w: " ".join(("dedup", *w)))
def test_help_shows_no_python_types(words: tuple[str, ...]) -> None:
    text = invoke(*words, "--help").stdout
    assert not re.search(r"<[a-z|\[\]]+>|\{\w+\}|list\[", text), text


def test_every_option_that_takes_a_value_has_a_metavar() -> None:
    for flag, param in options():
        if not (param.is_flag or param.count):
            assert param.metavar, flag
    arguments = [p for _, c in COMMANDS for p in c.params if isinstance(p, TyperArgument)]
    assert sorted(str(p.metavar) for p in arguments) == [
        "FILE",
        "ID...",
        "LABELS...",
        "PATH...",
        "PATH...",
    ]


def test_cluster_help_shows_the_metavars() -> None:
    text = invoke("cluster", "--help").stdout
    # "  -m, --model MODEL   help": the flag, and the word after it.
    rows = re.findall(r"^  (?:-\w, )?(--[\w-]+) ?(\S*)", text, re.MULTILINE)
    shown = dict(rows)
    assert {k: shown[k] for k in ("--model", "--threshold", "--batch-size", "--out", "--html")} == {
        "--model": "MODEL",
        "--threshold": "X",
        "--batch-size": "N",
        "--out": "DIR",
        "--html": "FILE",
    }
    assert shown["--field"] == "NAME=COLUMN" and shown["--format"] == "jsonl|csv|text"
    assert "  -b, --backend auto|dense|lexical|hybrid\n" in text
    assert "  PATH...  Files, directories (read recursively), or - for standard input" in text


# Shell completion.


def test_the_root_help_offers_completion() -> None:
    text = invoke("--help").stdout
    assert "  --install-completion  Install completion for the current shell.\n" in text
    assert "  --show-completion     Show completion for the current shell" in text


def test_show_completion_prints_the_bash_script(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without shell detection (as where no shell can be detected), the shell is named.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = invoke("--show-completion", "bash")
    assert result.exit_code == 0, result.output
    script = invoke(env={"_DEDUP_COMPLETE": "source_bash"}).stdout
    assert result.stdout.strip() == script.strip()
    assert "_DEDUP_COMPLETE=complete_bash $1" in script
    assert script.rstrip().endswith("complete -o default -F _dedup_completion dedup")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("dedup cl", ["cluster"]),
        ("dedup ev", ["evaluate"]),
        ("dedup evaluate p", ["pairs"]),
        ("dedup cluster --back", ["--backend"]),
        ("dedup cluster --backend ", ["auto", "dense", "lexical", "hybrid"]),
        ("dedup cluster --format ", ["jsonl", "csv", "text"]),
        ("dedup evaluate clusters --neigh", ["--neighbours"]),
    ],
)
def test_bash_completes_commands_options_and_choices(line: str, expected: list[str]) -> None:
    words = line.split(" ")
    env = {
        "_DEDUP_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    result = invoke(env=env)
    assert result.exit_code == 0
    assert result.stdout.split() == expected


# Environment variables.


def expected_variable(flag: str) -> str:
    return CACHE_ENV if flag == "--cache" else "DEDUP_" + flag[2:].upper().replace("-", "_")


def test_every_option_has_its_dedup_variable() -> None:
    for flag, param in options():
        assert param.envvar == expected_variable(flag), flag
    assert expected_variable("--model") == MODEL_ENV  # the variable it always had


def test_the_readme_lists_every_variable_once_in_one_table() -> None:
    rows = re.findall(r"^\| `(--[a-z-]+)[^|]*\| `(DEDUP_[A-Z_]+)` \|", README, re.MULTILINE)
    listed = dict(rows)
    assert len(listed) == len(rows), "an option listed twice"
    assert listed == {flag: param.envvar for flag, param in options()}


def json_run(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = invoke("cluster", ARTICLES, *args, env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_variables_set_options() -> None:
    env = {"DEDUP_BACKEND": "lexical", "DEDUP_THRESHOLD": "0.9", "DEDUP_JSON": "1"}
    doc = json_run(env=env)
    assert (doc["run"]["backend"], doc["run"]["threshold"]) == ("lexical", 0.9)
    flags = json_run("--backend", "lexical", "--threshold", "0.9", "--json")
    assert doc["stories"] == flags["stories"]
    assert doc["stories"] != json_run("--backend", "lexical", "--json")["stories"]


def test_a_flag_beats_its_variable() -> None:
    env = {"DEDUP_BACKEND": "dense", "DEDUP_THRESHOLD": "0.9", "DEDUP_JSON": "0"}
    result = invoke(
        "cluster", ARTICLES, "--backend", "lexical", "--threshold", "0.3", "--json", env=env
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)["run"]
    assert (run["backend"], run["threshold"]) == ("lexical", 0.3)


def test_variables_name_record_fields_and_the_stdin_format() -> None:
    rows = "guid,body\nq1,An earthquake struck Turkey on Monday.\n"
    env = {"DEDUP_FORMAT": "csv", "DEDUP_ID_FIELD": "guid", "DEDUP_FIELD": "text=body"}
    result = invoke("cluster", "-", "-b", "lexical", "--json", env=env, stdin=rows)
    assert result.exit_code == 0, result.stderr
    [story] = json.loads(result.stdout)["stories"]
    assert [m["id"] for m in story["members"]] == ["q1"]


def test_a_field_flag_beats_the_variable_naming_that_field() -> None:
    rows = "story,body\nFloods hit Spain.,An earthquake struck Turkey on Monday.\n"
    env = {"DEDUP_FORMAT": "csv", "DEDUP_TEXT_FIELD": "story"}
    result = invoke(
        "cluster", "-", "--field", "text=body", "-b", "lexical", "--json", env=env, stdin=rows
    )
    assert result.exit_code == 0, result.stderr
    [story] = json.loads(result.stdout)["stories"]
    assert story["members"][0]["title"] == "An earthquake struck Turkey on Monday."


def test_a_bad_value_in_a_variable_names_the_variable() -> None:
    result = invoke("cluster", ARTICLES, env={"DEDUP_THRESHOLD": "high"})
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Invalid value for DEDUP_THRESHOLD (--threshold): Input should be a valid number,"
        " unable to parse string as a number\n"
    )
    flag = invoke("cluster", ARTICLES, "--threshold", "high", env={"DEDUP_THRESHOLD": "0.5"})
    assert flag.stderr.startswith("Error: Invalid value for --threshold: Input should be")


def test_a_setting_out_of_range_from_a_variable_is_one_line() -> None:
    result = invoke("cluster", ARTICLES, env={"DEDUP_BATCH_SIZE": "0"})
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: batch size must be at least 1, got 0 (DEDUP_BATCH_SIZE, for --batch-size)\n",
    )
    flag = invoke("cluster", ARTICLES, "--batch-size", "0")
    assert flag.stderr == "Error: batch size must be at least 1, got 0 (--batch-size)\n"


@pytest.mark.parametrize(
    ("command", "variable", "value", "error"),
    [
        ("report", "DEDUP_SINCE", "garbage", "expected a date YYYY-MM-DD, got 'garbage'"),
        ("cluster", "DEDUP_FIELD", "garbage", "expected NAME=COLUMN, got 'garbage'"),
        ("cluster", "DEDUP_FIELD", "body=x", "no record field 'body'"),
        ("cluster", "DEDUP_TEXT_FIELD", " ", "no column named for the text field"),
        ("cluster", "DEDUP_WINDOW_DAYS", "-3", "window days must be at least 0, got -3"),
        ("cluster", "DEDUP_MIN_SIZE", "0", "min size must be at least 1, got 0"),
        ("evaluate", "DEDUP_LABELS", "nope.csv", "labels file not found: nope.csv"),
    ],
)
def test_every_check_of_a_value_from_a_variable_names_the_variable(
    tmp_path: Path, command: str, variable: str, value: str, error: str
) -> None:
    """The command's own checks and the library's too, not only Typer's type errors."""
    args = {
        "report": ["--store", str(tmp_path / "s.db")],
        "cluster": [ARTICLES, "-blexical"],
        "evaluate": ["clusters", ARTICLES, "-blexical"],
    }[command]
    result = invoke(command, *args, env={variable: value})
    assert result.exit_code == 2, result.stderr
    [line] = result.stderr.splitlines()
    flag = "--" + variable.removeprefix("DEDUP_").lower().replace("_", "-")
    assert line.startswith("Error: ") and error in line, line
    assert f"{variable} ({flag})" in line or f"({variable}, for {flag})" in line, line


def test_no_cache_on_the_command_line_beats_the_cache_directory_variable(tmp_path: Path) -> None:
    env = {CACHE_ENV: str(tmp_path / "caches")}
    result = invoke("cluster", ARTICLES, "-b", "lexical", "--no-cache", "--json", env=env)
    assert result.exit_code == 0, result.stderr


def test_cache_settings_from_flags_and_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "root"))

    def settings(given: set[str], **values: Any):  # type: ignore[no-untyped-def]
        options = SettingValues({"cache": None, "no_cache": False, **values})
        options.given = frozenset(given)
        return to_settings(options)

    # DEDUP_CACHE_DIR keeps its meaning: the root of every cache, with ~ expanded.
    assert settings(set(), cache=Path("ignored, read again")).cache == tmp_path / "root"
    assert settings({"cache"}, cache=tmp_path / "flag").cache == tmp_path / "flag"
    assert settings({"no_cache"}, cache=tmp_path / "root", no_cache=True).cache is None
    assert settings({"cache"}, cache=tmp_path / "flag", no_cache=True).cache == tmp_path / "flag"
    assert settings(set(), cache=tmp_path / "root", no_cache=True).cache is None
    with pytest.raises(typer.BadParameter, match="give --cache DIR or --no-cache, not both"):
        settings({"cache", "no_cache"}, cache=tmp_path / "flag", no_cache=True)
    monkeypatch.setenv(CACHE_ENV, "~/dedup-cache")
    assert settings(set(), cache=Path("~/dedup-cache")).cache == Path("~/dedup-cache").expanduser()


def test_the_model_variable_keeps_its_meaning(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = invoke("cluster", ARTICLES, "-b", "dense", env={MODEL_ENV: str(missing)})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot load model {missing}: no such directory")


# --field.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--field", "text"], "Invalid value for --field: expected NAME=COLUMN, got 'text'"),
        (
            ["--field", "body=story"],
            "Invalid value for --field: no record field 'body': the fields are id, title, text,"
            " url, source, lang, published",
        ),
        (["--field", "text="], "Invalid value for --field: no column named for the text field"),
        (
            ["--text-field", " "],
            "Invalid value for --text-field: no column named for the text field",
        ),
        (
            ["--field", "text=a", "--field", "text=b"],
            "Invalid value for --field: the text field is named twice: 'a' (--field) and 'b'",
        ),
        (
            ["--date-field", "when", "--field", "published=day"],
            "Invalid value for --date-field: the published field is named twice: 'day' (--field)"
            " and 'when'",
        ),
    ],
)
def test_field_mistakes_are_one_line_usage_errors(args: list[str], message: str) -> None:
    result = invoke("cluster", ARTICLES, *args)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_a_bad_stdin_format_is_a_usage_error() -> None:
    result = invoke("cluster", "-", "--format", "xml")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Invalid value for --format: Value error, 'xml' is not one of 'jsonl', 'csv',"
        " 'text'.\n"
    )


# A quick start.

HEAVY = (
    "numpy",
    "scipy",
    "sklearn",
    "torch",
    "transformers",
    "sentence_transformers",
    "rich",
    "trafilatura",
    "wordfreq",
    "dedup.pipeline",
    "dedup.represent",
    "dedup.report",
)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["cluster", "--help"], []])
def test_help_version_and_completion_import_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from dedup.cli import main\n"
        f"sys.argv = ['dedup', *{args!r}]\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('HEAVY', code, heavy, file=sys.stderr)\n"
    )
    env = {"_DEDUP_COMPLETE": "complete_bash", "COMP_WORDS": "dedup cl", "COMP_CWORD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, **({} if args else env)},
    )
    assert done.stderr.splitlines()[-1] == "HEAVY 0 []", done.stderr
