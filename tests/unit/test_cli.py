"""The command line's own logic: two-stage parsing, global options on either side."""

from __future__ import annotations

import pytest

from launcher.cli.main import (
    COMMANDS,
    WITH_LOG_FORMAT,
    WITH_NO_COLOR,
    WITHOUT_FILE,
    build_parser,
    command_module,
    command_parser,
    main,
    parse,
)


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


def help_of(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        command_parser(name).parse_args(["--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_its_own_help_with_the_global_options_that_act_on_it(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = help_of(name, capsys)
    assert out.startswith(f"usage: launcher {name} ")
    assert ("--file" in out) == (name not in WITHOUT_FILE)
    assert ("--log-format" in out) == (name in WITH_LOG_FORMAT)
    assert ("--no-color" in out) == (name in WITH_NO_COLOR)


def test_the_global_options_act_where_they_are_offered() -> None:
    # `--log-format` and `--no-color` after the commands that print no colour and no diagnostics
    # (issue 18: they were offered everywhere, and ignored by status and logs).
    assert {"status", "down", "start", "stop", "restart", "ls", "schema", "completion"}.isdisjoint(
        WITH_NO_COLOR
    )
    assert {"run", "up", "check", "config"} <= WITH_LOG_FORMAT
    assert "logs" in WITH_NO_COLOR
    # Before the command they are accepted for every command (its errors follow them).
    args = parse(["--no-color", "--log-format", "json", "status"])
    assert (args.command, args.no_color, args.log_format) == ("status", True, "json")
    for argv in (["status", "--no-color"], ["ls", "-f", "x.toml"], ["schema", "--log-format", "json"]):
        with pytest.raises(SystemExit):
            parse(argv)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_commands_help_ends_with_examples_of_it(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(name, capsys)
    assert "\nexamples:\n" in out, out
    examples = out[out.index("\nexamples:\n") :].splitlines()[2:]
    assert examples, out
    assert any(f"launcher {name}" in line for line in examples), out


def test_runs_usage_shows_the_command_after_two_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    usage = help_of("run", capsys).split("\n\n")[0]
    assert usage.endswith("[PROFILE|SERVICE ...] [-- CMD ...]")
    args = parse(["run", "ci"])  # the usage's tail is shown, not parsed: main() takes CMD off first
    assert args.words == ["ci"]


def test_schema_takes_what_it_describes_as_a_word_and_still_understands_the_old_flag() -> None:
    from launcher.cli import schema

    for argv, kind in (
        (["schema"], "config"),
        (["schema", "profile"], "profile"),
        (["schema", "config"], "config"),
    ):
        args = parse(argv)
        assert (args.kind, args.profile_flag) == (kind, False)
    assert parse(["schema", "--profile"]).profile_flag
    assert "--profile" not in " ".join(
        a
        for action in command_parser("schema")._actions
        if action.help != "==SUPPRESS=="
        for a in action.option_strings
    )
    assert callable(schema.main)


def test_a_bare_launcher_prints_the_command_list_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # As `docker compose` does; `launcher -f x.toml` alone still lacks its command (exit 2).
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: launcher ")
    assert all(f"  {name}  " in out for name in COMMANDS)
    assert "examples:" in out
    with pytest.raises(SystemExit) as exit_:
        main(["-f", "x.toml"])
    assert exit_.value.code == 2


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
