"""The command line's own logic: two-stage parsing, global options on either side."""

from __future__ import annotations

import pytest

from launcher.cli.main import COMMANDS, build_parser, command_module, command_parser, main, parse


@pytest.mark.parametrize(
    ("argv", "command", "file", "log_format"),
    [
        (["run", "full"], "run", None, None),
        (["-f", "run", "check"], "check", "run", None),  # `run` is the value of -f here
        (["--file", "x.toml", "--log-format", "json", "config"], "config", "x.toml", "json"),
        (["config", "--file", "x.toml", "--log-format", "json"], "config", "x.toml", "json"),
        (["-f", "a.toml", "graph", "--format", "dot"], "graph", "a.toml", None),
    ],
)
def test_global_options_before_or_after_the_command(
    argv: list[str], command: str, file: str | None, log_format: str | None
) -> None:
    args = parse(argv)
    assert (args.command, args.file, args.log_format) == (command, file, log_format)


def test_the_commands_own_options_and_words() -> None:
    args = parse(["--no-color", "run", "full", "api", "--keep-going", "--mode", "multi"])
    assert args.no_color
    assert args.words == ["full", "api"]
    assert args.keep_going
    assert args.mode == "multi"
    assert parse(["graph", "--format", "mermaid"]).format == "mermaid"


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name, (_, text) in COMMANDS.items():
        assert f"{name}  " in out
        assert text in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_its_own_help_with_the_global_options(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        command_parser(name).parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith(f"usage: launcher {name} ")
    assert "--file" in out
    assert "--log-format" in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_module_declares_its_options_and_runs_the_command(name: str) -> None:
    module = command_module(name)
    assert callable(module.add_arguments)
    assert callable(module.main)


def test_unknown_command_and_unknown_option_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["bogus"], ["check", "--bogus"], []):
        with pytest.raises(SystemExit) as exit_:
            parse(argv)
        assert exit_.value.code == 2
    assert "usage: launcher" in capsys.readouterr().err


def test_version_answers_without_a_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("launcher ")
