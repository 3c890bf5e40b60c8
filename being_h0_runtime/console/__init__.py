"""The operator's console: one status line, single-key commands, the same keys in every command.

`being-h0 launch`, `run`, `record` and `bench run` share it:

* **Status line.** When stdout is a terminal, one line is redrawn in place: task, state, episode k/n,
  elapsed, e-stop, control-loop and inference rates, recording size. When stdout is a pipe or a file
  (logs, CI, tests) the same facts come as plain lines, one per change and every few seconds, so a log
  stays readable.
* **Keys.** When stdin is a terminal it is put in cbreak mode (one key, no Enter; Ctrl-C still works)
  and restored on exit, on Ctrl-C and on SIGTERM. When stdin is a pipe or a file, Enter-terminated
  lines are read instead (``e<Enter>``), so a script can drive the console too.

Every key does something sensible in every state: a key that does not apply says why instead of
being silently dropped. `KEYS` is the one list; the help line and the README are written from it.

Modules: ``keys`` (the key list and the reader), ``status`` (the status line), ``graph`` (the
console over a running graph), ``logtail`` (node logs above the line), ``loops`` (the `launch`
and `run` loops), ``episodes`` (in-process episodes: `record`, `bench run`).
"""

from .episodes import EpisodeConsole, console_wanted
from .graph import GraphConsole, GraphConsoleResult
from .keys import ACTION_OF, ACTION_OF_WORD, KEYS, Key, KeyReader, help_line, help_text
from .logtail import LogTail
from .loops import graph_up, launch_streams_logs, run_launch
from .status import ConsoleStatus, RateMeter, StatusLine, folder_bytes

__all__ = [
    "ACTION_OF",
    "ACTION_OF_WORD",
    "KEYS",
    "ConsoleStatus",
    "EpisodeConsole",
    "GraphConsole",
    "GraphConsoleResult",
    "Key",
    "KeyReader",
    "LogTail",
    "RateMeter",
    "StatusLine",
    "console_wanted",
    "folder_bytes",
    "graph_up",
    "help_line",
    "help_text",
    "launch_streams_logs",
    "run_launch",
]
