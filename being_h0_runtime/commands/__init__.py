"""`being-h0` subcommands: one module per top-level command.

Each module exposes ``register(subparsers)`` (name and one-line help; the parser itself is built
only when the command is chosen, so `being-h0 --help` imports none of the runtime) and the
function its parser runs, ``run(args) -> int``.  Commands whose code lives elsewhere (dataset,
record, calibrate, bench ...) adopt that module's own parser as their subparser.
"""

#: top-level commands in the order `being-h0 --help` lists them (module names under this package)
COMMANDS: tuple[str, ...] = ("run", "teleop", "launch", "doctor", "config", "bench", "dataset", "view", "record",
                             "calibrate", "tokenizer", "convert", "engine")
