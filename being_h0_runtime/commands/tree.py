"""The one `being-h0` parser tree: lazily built subcommands, global options at every level, teaching help.

argparse builds a parser for every subcommand up front; ours would import the whole runtime
(numpy, pydantic, MuJoCo's bindings through the drivers) just to print `being-h0 --help`.
`LazySubParsers` registers a subcommand by name and one-line help, and calls its builder only
when that subcommand is chosen (or a test asks for the whole tree).  A delegated module's own
parser (``recording.record_cli``, ``bench.runner``, ``calibration.cli`` ...) is adopted as it
is: it becomes the subparser, so there is one parse of the command line and no routing by hand.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

#: a subcommand's builder: given its prog ("being-h0 bench run"), returns its finished parser
Builder = Callable[[str], argparse.ArgumentParser]

#: options valid before any subcommand, and (as in every release so far) after one
GLOBAL_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--log-level", {"metavar": "LEVEL", "help": "Python log level for this process and the node processes it "
                                               "starts: DEBUG, INFO, WARNING, ERROR"}),
)
DEFAULT_LOG_LEVEL = "WARNING"


class TeachingFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples keep their layout); each option shows its default.

    A default is added only where the help does not already state one, and not for None/False
    (an option that is off, or falls back to something the help explains).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is argparse.SUPPRESS or isinstance(default, bool)
                or not action.option_strings or default == []):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


class LazySubParsers(argparse._SubParsersAction):
    """A subparsers action whose parsers are built on first use (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._builders: dict[str, Builder] = {}

    def add_lazy(self, name: str, help: str, build: Builder) -> None:
        """Register `name`; `build(prog)` makes its parser when it is needed."""
        if name in self._name_parser_map:
            raise ValueError(f"subcommand {name!r} registered twice under {self._prog_prefix!r}")
        self._name_parser_map[name] = None  # the name is a valid choice now; the parser comes later
        self._builders[name] = build
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))

    def parser_for(self, name: str) -> argparse.ArgumentParser:
        """The parser of `name`, built now if it was not yet."""
        build = self._builders.pop(name, None)
        if build is not None:
            parser = build(f"{self._prog_prefix} {name}")
            finish(parser)
            self._name_parser_map[name] = parser
        return self._name_parser_map[name]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values and values[0] in self._builders:
            self.parser_for(values[0])
        super().__call__(parser, namespace, values, option_string)


def new_parser(prog: str, description: str, examples: str = "", **kwargs: Any) -> argparse.ArgumentParser:
    """A parser that teaches: description, an `examples:` epilog, defaults shown."""
    epilog = kwargs.pop("epilog", None) or (f"examples:\n{examples.rstrip()}\n" if examples else None)
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                   formatter_class=TeachingFormatter, **kwargs)


def add_lazy_subparsers(parser: argparse.ArgumentParser, dest: str, metavar: str = "COMMAND") -> LazySubParsers:
    parser.register("action", "lazy_parsers", LazySubParsers)
    return parser.add_subparsers(dest=dest, required=True, metavar=metavar, action="lazy_parsers")


def subparser_actions(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def finish(parser: argparse.ArgumentParser) -> None:
    """Give a just-built (or adopted) parser, and the subparsers it built eagerly, the tree's conventions:
    the global options (default: suppressed, so a value given before the subcommand stands) and the
    teaching formatter.  Lazily built children get the same when they are built."""
    parser.formatter_class = TeachingFormatter if parser.formatter_class in (
        argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter) else parser.formatter_class
    for flag, settings in GLOBAL_OPTIONS:
        if flag not in parser._option_string_actions:
            parser.add_argument(flag, default=argparse.SUPPRESS, **{**settings, "help": "the global option, here as well as before the subcommand"})
    for action in subparser_actions(parser):
        for child in action._name_parser_map.values():
            if child is not None:
                finish(child)


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (subcommand path, parser) of the tree, building the lazy ones (tests, docs)."""
    yield path, parser
    for action in subparser_actions(parser):
        for name in list(action._name_parser_map):
            child = action.parser_for(name) if isinstance(action, LazySubParsers) else action._name_parser_map[name]
            yield from walk(child, (*path, name))


def adopt(parser: argparse.ArgumentParser, prog: str, run: Callable[[argparse.Namespace], int] | None = None,
          examples: str = "") -> argparse.ArgumentParser:
    """Make a delegated module's own parser a subparser of the tree, as `prog`.

    `run` becomes its default function (subcommands that set their own win); `examples` are appended
    to the help when the module's text shows no `being-h0 ...` example yet.  Ctrl-C in these commands
    ends the process by the signal, as it always has (cli.main does not turn it into exit 130).
    """
    parser.prog = prog
    if run is not None:
        parser.set_defaults(func=run)
    parser.set_defaults(interrupt_propagates=True)
    if examples and not has_example(parser, prog):
        parser.epilog = ((parser.epilog or "").rstrip() + "\n\n" if parser.epilog else "") + \
            f"examples:\n{examples.rstrip()}\n"
    return parser


def has_example(parser: argparse.ArgumentParser, prog: str) -> bool:
    """Does the parser's help show a command line of its own (`  being-h0 bench run ...`)?"""
    text = f"{parser.description or ''}\n{parser.epilog or ''}"
    return any(line.strip().startswith(prog + " ") or line.strip() == prog for line in text.splitlines())


def adopt_children(parser: argparse.ArgumentParser, examples: dict[str, str]) -> None:
    """adopt() each subcommand an adopted parser built eagerly, with its example from `examples`."""
    for action in subparser_actions(parser):
        for name, child in action._name_parser_map.items():
            adopt(child, child.prog, examples=f"  {examples[name]}" if name in examples else "")
