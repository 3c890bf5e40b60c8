"""Code-shape figures for the two packages: size, long functions, import cycles, layer arrows.

    python scripts/code_metrics.py                 # text report on this checkout
    python scripts/code_metrics.py --json          # the same as one JSON object
    python scripts/code_metrics.py --root DIR      # another tree (e.g. a `git archive main` copy)
    python scripts/code_metrics.py --top 20 --max-function-lines 60

Standard library only (ast), so it runs on any checkout without installing anything.

What it reports:

* the N largest ``.py`` files of ``being_h0_runtime`` and ``being_h0_train`` (lines);
* every function or method longer than ``--max-function-lines`` (``def`` line to last
  line, decorators excluded), with its qualified name, marked when a comment at its top
  (``# Longer than 60 lines because ...``) says why it stays long;
* import cycles: strongly connected components (more than one module) of the module
  import graph, once for module-level imports only (the ones that bite at import time)
  and once with function-level (lazy) imports added (the ones that still tie two
  modules into one unit), and a third time with ``if TYPE_CHECKING:`` imports added
  (what a type checker or a cyclic-import lint sees: two modules that cannot be
  read or type-checked one without the other).
  An edge goes to the module named, not to its parent packages;
* layer violations: an import that points against the intended arrows
  ``cli -> nodes -> drivers / policy / safety / execution -> rig / msgs / transport``,
  the runtime importing the training package, or the training package importing a
  runtime module outside its allowed public set (see ``TRAIN_MAY_IMPORT``).

Exit status is 0 whatever it finds: it measures, it does not gate.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

PACKAGES = ("being_h0_runtime", "being_h0_train")
RUNTIME = "being_h0_runtime"
TRAIN = "being_h0_train"

#: runtime modules (prefixes) the training package may import: the public model,
#: dataset and engine-folder interfaces, the rig description and the message types.
TRAIN_MAY_IMPORT = (
    "being_h0_runtime.rig",
    "being_h0_runtime.msgs",
    "being_h0_runtime.config",  # ConfigError: one error type for bad files, both packages
    "being_h0_runtime.paths",
    "being_h0_runtime.policy.spec",  # Observation, ActionSpec: the engine's I/O contract
    "being_h0_runtime.policy.engine_format",  # the engine folder format (manifest, stats)
    "being_h0_runtime.policy.preprocess",  # image/prompt pre-processing baked into engines
    "being_h0_runtime.policy.engine",  # load_engine_policy: the public engine loader
    "being_h0_runtime.policy.models",  # the model classes an engine runs; training builds and trains them
    "being_h0_runtime.policy.backends",  # backend availability probes / runners for export checks
    "being_h0_runtime.recording.export",  # dataset readers / writer
    "being_h0_runtime.recording.dataset",
    "being_h0_runtime.sim.world",  # VirtualRig (reset, set_pose, render_rgb, object_poses): perception warm-up renders
    "being_h0_runtime.bench.timing",  # a leaf (numpy + stdlib): one definition of p50/p99 over N timed calls
    "being_h0_runtime.bench.tasks",  # task files (config + pydantic): the instructions multi-task training uses
)

#: layer of a runtime module, by its first component under ``being_h0_runtime``.
#: A module whose last component is ``cli`` or ends in ``_cli`` is an app whatever its package.
APP = "app"  # cli, console, bench, launchers: the top
NODES = "nodes"
MIDDLE = "middle"  # drivers, policy, safety, sim, teleop, recording, calibration, view
BASE = "base"  # rig, msgs, transport and small shared utilities: the bottom
LAYER_OF_TOP = {
    "cli": APP, "console": APP, "bench": APP, "launcher": APP, "launch": APP,
    "node_main": APP, "operator": APP, "doctor": APP, "doctor_checks": APP, "teleop_session": APP,
    "training_entry": APP,
    "nodes": NODES,
    "drivers": MIDDLE, "policy": MIDDLE, "safety": MIDDLE, "sim": MIDDLE, "teleop": MIDDLE,
    "recording": MIDDLE, "calibration": MIDDLE, "view": MIDDLE,
    "rig": BASE, "msgs": BASE, "transport": BASE, "config": BASE, "paths": BASE,
    "logs": BASE, "netguard": BASE, "user_config": BASE,
}
RANK = {BASE: 0, MIDDLE: 1, NODES: 2, APP: 3}

#: extra arrows the ranks alone do not say: (importer prefix, imported prefix, why).
FORBIDDEN_EXTRA = (
    ("being_h0_runtime.rig", "being_h0_runtime.sim", "the simulator imports the rig, never the reverse"),
    ("being_h0_runtime.safety", "being_h0_runtime.sim", "safety must not need the simulator"),
    ("being_h0_runtime.teleop", "being_h0_runtime.sim", "teleop must not need the simulator"),
    ("being_h0_runtime.calibration", "being_h0_runtime.sim.franka",
     "FR3 kinematics belong in the rig description"),
    ("being_h0_runtime.nodes", "being_h0_runtime.sim.franka",
     "FR3 kinematics belong in the rig description"),
    ("being_h0_runtime.drivers", "being_h0_runtime.sim.franka",
     "FR3 kinematics belong in the rig description"),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function body
    typing_only: bool = False  # under `if TYPE_CHECKING:`


@dataclass(frozen=True)
class LongFunction:
    name: str
    file: str
    line: int
    length: int
    reason: str = ""  # from a `# Longer than 60 lines because ...` comment at its top ("" = none given)


#: the comment that says why a function stays over the limit (at its top, before or after its docstring):
#: ``# Longer than 60 lines because it is a table: ...``
LONG_REASON_MARK = "# Longer than"


def _long_reason(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    body = fn.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
        and isinstance(body[0].value.value, str)
    stop = body[1].lineno if has_doc and len(body) > 1 else body[0].lineno
    for text in lines[fn.lineno - 1: stop]:
        mark = text.find(LONG_REASON_MARK)
        if mark >= 0 and text[:mark].strip() == "":
            return text[mark + 2:].strip()
    return ""


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    line: int
    lazy: bool
    rule: str


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        files.extend(sorted((root / package).rglob("*.py")))
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module, self.is_package, self.known = module, is_package, known
        self.depth = 0  # function nesting
        self.typing = 0  # `if TYPE_CHECKING:` nesting
        self.found: list[Import] = []

    def _add(self, name: str, line: int) -> None:
        # keep the longest known module prefix: `import a.b.c` where a.b.c is a module
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            candidate = ".".join(parts[:cut])
            if candidate in self.known:
                if candidate != self.module:
                    self.found.append(
                        Import(self.module, candidate, line, self.depth > 0, self.typing > 0)
                    )
                return

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.typing += 1
            for child in node.body:
                self.visit(child)
            self.typing -= 1
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            sub = f"{base}.{alias.name}" if base else alias.name
            self._add(sub if sub in self.known else base, node.lineno)


def _long_functions(tree: ast.AST, file: str, limit: int, lines: list[str] | None = None) -> list[LongFunction]:
    found: list[LongFunction] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    found.append(LongFunction(name, file, child.lineno, length, _long_reason(lines or [], child)))
                walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one node, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def runtime_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != RUNTIME or len(parts) < 2:
        return None
    if parts[-1] == "cli" or parts[-1].endswith("_cli"):
        return APP
    return LAYER_OF_TOP.get(parts[1])


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violation(imp: Import) -> str | None:
    src, dst = imp.importer, imp.imported
    if _under(src, RUNTIME) and _under(dst, TRAIN):
        return "runtime imports the training package"
    if _under(src, TRAIN) and _under(dst, RUNTIME):
        if dst == RUNTIME or any(_under(dst, allowed) for allowed in TRAIN_MAY_IMPORT):
            return None
        return "training imports a runtime module outside its public set"
    src_layer, dst_layer = runtime_layer(src), runtime_layer(dst)
    if src_layer and dst_layer and RANK[dst_layer] > RANK[src_layer]:
        return f"{src_layer} layer imports {dst_layer} layer"
    for importer, imported, why in FORBIDDEN_EXTRA:
        if _under(src, importer) and _under(dst, imported):
            return why
    return None


def measure(root: Path, top: int, max_function_lines: int) -> dict:
    files = python_files(root)
    modules = {module_name(root, f): f for f in files}
    known = set(modules)
    sizes: list[tuple[int, str]] = []
    long_functions: list[LongFunction] = []
    imports: list[Import] = []
    for module, path in modules.items():
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(root))
        sizes.append((len(text.splitlines()), rel))
        tree = ast.parse(text, filename=rel)
        long_functions.extend(_long_functions(tree, rel, max_function_lines, text.splitlines()))
        collector = _ImportCollector(module, path.name == "__init__.py", known)
        collector.visit(tree)
        imports.extend(collector.found)

    eager: dict[str, set[str]] = {m: set() for m in modules}
    every: dict[str, set[str]] = {m: set() for m in modules}
    typed: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        typed[imp.importer].add(imp.imported)
        if imp.typing_only:
            continue
        every[imp.importer].add(imp.imported)
        if not imp.lazy:
            eager[imp.importer].add(imp.imported)
    violations = [
        Violation(i.importer, i.imported, i.line, i.lazy, rule)
        for i in sorted(set(imports), key=lambda i: (i.importer, i.line, i.imported))
        if not i.typing_only and (rule := layer_violation(i))
    ]
    sizes.sort(reverse=True)
    long_functions.sort(key=lambda f: -f.length)
    return {
        "root": str(root),
        "files": len(files),
        "total_lines": sum(n for n, _ in sizes),
        "files_over_400_lines": sum(1 for n, _ in sizes if n > 400),
        "largest_files": [{"file": f, "lines": n} for n, f in sizes[:top]],
        "max_function_lines": max_function_lines,
        "long_functions": [asdict(f) for f in long_functions],
        "cycles_module_level": strongly_connected(eager),
        "cycles_with_function_level": strongly_connected(every),
        "cycles_with_type_checking": strongly_connected(typed),
        "layer_violations": [asdict(v) for v in violations],
    }


def print_report(report: dict) -> None:
    print(f"{report['files']} files, {report['total_lines']} lines under {report['root']}")
    print(f"\nlargest files ({report['files_over_400_lines']} over 400 lines):")
    for entry in report["largest_files"]:
        print(f"  {entry['lines']:5d}  {entry['file']}")
    longs = report["long_functions"]
    why = sum(1 for f in longs if f["reason"])
    print(f"\nfunctions over {report['max_function_lines']} lines: {len(longs)} "
          f"({why} with a '{LONG_REASON_MARK} ...' comment saying why, {len(longs) - why} without)")
    for f in longs:
        print(f"  {f['length']:4d}  {f['name']}  ({f['file']}:{f['line']})" + ("  [reason given]" if f["reason"] else ""))
    for key, title in (
        ("cycles_module_level", "import cycles, module-level imports"),
        ("cycles_with_function_level", "import cycles, function-level imports included"),
        ("cycles_with_type_checking", "import cycles, TYPE_CHECKING imports included too"),
    ):
        print(f"\n{title}: {len(report[key])}")
        for component in report[key]:
            print(f"  {len(component)} modules: " + ", ".join(component))
    violations = report["layer_violations"]
    eager = sum(1 for v in violations if not v["lazy"])
    print(f"\nlayer violations: {len(violations)} ({eager} module-level, {len(violations) - eager} lazy)")
    for v in violations:
        where = "lazy" if v["lazy"] else "top"
        print(f"  {v['importer']}:{v['line']} -> {v['imported']} [{where}] {v['rule']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repository root holding being_h0_runtime/ and being_h0_train/")
    parser.add_argument("--top", type=int, default=15, help="how many of the largest files to list")
    parser.add_argument("--max-function-lines", type=int, default=60,
                        help="report functions longer than this")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if not (args.root / RUNTIME).is_dir():
        parser.error(f"{args.root} has no {RUNTIME}/ directory")
    report = measure(args.root, args.top, args.max_function_lines)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
