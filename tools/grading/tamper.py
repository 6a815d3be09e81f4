"""Find exercise cells that tamper with grading or lean on the course's own answer, for an instructor to review.

A check's verdict is decided by its judge outside the kernel (utils.checks.protocol), so what is
left to look for is an exercise cell that reaches the grading machinery inside its kernel (to
forge what its probe reports) or uses the course's own implementation of what it was asked to
write. Two independent looks: `static_flags` and `course_code_flags` read the cell's code;
`SNAPSHOT_SOURCE` runs in the kernel and fingerprints what the probes rely on, so that
`snapshot_changes` can name whatever an exercise cell replaced, however its code was spelled.
The rules are narrow on purpose: honest cells (helpers, debug prints, seeding, type hints,
`IPython.display`) must never be flagged (tests/test_grade_honest.py holds such a corpus).
"""
import ast

from tools.grading.plan import imported_names

# Modules that reach the interpreter, the kernel, other processes or the grader: an answer needs none.
SUSPECT_MODULES = {
    "builtins", "sys", "os", "importlib", "ctypes", "gc", "inspect", "ipykernel", "subprocess", "signal",
    "multiprocessing", "threading", "socket", "pickle", "marshal", "runpy", "code", "codeop", "atexit", "resource",
    "nbformat", "nbclient", "jupyter_client", "tools", "solutions", "_grader_kernel", "_grader_judge",
}
HARMLESS_SUBMODULES = ("IPython.display",)  # clear_output, display: what students use IPython for
SUSPECT_CALLS = {"exec", "eval", "compile", "__import__", "globals", "open", "breakpoint", "get_ipython"}
SUSPECT_ATTRIBUTES = {
    "__builtins__", "__import__", "__path__", "__globals__", "__code__", "__closure__", "__subclasses__",
    "__loader__", "__spec__", "modules", "meta_path", "path_hooks", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "events", "f_globals", "f_locals", "f_back",
    "sys", "os", "builtins", "importlib",  # modules that other modules import: torch.sys.modules
}
METHODS_OF_THE_SAME_NAME = {"modules"}  # nn.Module.modules() is an answer's business; sys.modules is not
# Assigning to these modules' attributes changes what the probe or the kernel runs.
GUARDED_MODULES = {"utils", "builtins", "sys", "IPython", "_grader_kernel"}
SUSPECT_TEXT = ("_grader", "utils.checks", "builtins", ".ipynb")
SUSPECT_NAMES = {"__builtins__"}


def static_flags(source: str) -> list[str]:
    """What in an exercise cell's code could tamper with grading, each with its line ([] for ordinary code)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the cell fails when it runs; there is nothing it can tamper with
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    guarded = GUARDED_MODULES | {name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                                 and (getattr(node, "module", None) or "").startswith("utils")
                                 for name in imported_names(node)}
    flags = []
    for node in ast.walk(tree):
        reason = "" if id(node) in called and getattr(node, "attr", "") in METHODS_OF_THE_SAME_NAME else node_flag(node)
        reason = reason or module_assignment(node, guarded)
        if reason:
            flags.append(f"{reason} (line {node.lineno})")
    return list(dict.fromkeys(flags))


def node_flag(node: ast.AST) -> str:
    """Why one syntax node is suspect, or ""."""
    if isinstance(node, ast.Import):
        bad = [alias.name for alias in node.names if suspect_module(alias.name)]
        return f"imports {', '.join(bad)}" if bad else ""
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        names = [f"{module}.{alias.name}" for alias in node.names]
        return f"imports from {module}" if suspect_module(module) and not all(map(harmless, names)) else ""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPECT_CALLS:
        return f"calls {node.func.id}()"
    if isinstance(node, ast.Attribute) and node.attr in SUSPECT_ATTRIBUTES:
        return f"uses .{node.attr}"
    if isinstance(node, ast.Name) and node.id in SUSPECT_NAMES | SUSPECT_CALLS and not isinstance(node.ctx, ast.Load):
        return f"rebinds {node.id}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        found = [text for text in SUSPECT_TEXT if text in node.value]
        return f"names {found[0]!r} in a string" if found else ""
    return ""


def module_assignment(node: ast.AST, modules: set[str]) -> str:
    """"assigns utils.dqn.td_targets" when `node` rebinds or deletes an attribute of a guarded module, else ""."""
    targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
        [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
    for target in targets:
        root = target
        while isinstance(root, ast.Attribute):
            root = root.value
        if target is not root and isinstance(root, ast.Name) and root.id in modules:
            return f"assigns {ast.unparse(target)}"
    return ""


def suspect_module(name: str) -> bool:
    """Is an imported module one an exercise never needs (or the course's checks, or IPython's machinery)?"""
    if harmless(name):
        return False
    return (name.split(".")[0] in SUSPECT_MODULES | {"IPython"} or name.startswith("utils.checks")
            or "solution" in name)


def harmless(name: str) -> bool:
    """Is `name` (a module or a name in one) one of the IPython helpers students use for display?"""
    return any(name == module or name.startswith(module + ".") for module in HARMLESS_SUBMODULES) \
        or name in ("IPython.display", "IPython.display.clear_output")


def course_code_flags(source: str, reference_paths: list[str], given: list[str]) -> list[str]:
    """Where an exercise cell names the course's own answer to it: 'uses the course's own utils.mdp.discounted_return (line 2)'.

    `reference_paths` holds every dotted path under `utils` that leads to that answer (re-exports
    included); `given` holds the course cells that run before, whose imports bind names too.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    modules, aliases = course_bindings([*given, source])
    flags = []
    for node in ast.walk(tree):
        for path in dotted_paths(node, modules, aliases):
            used = next((ref for ref in reference_paths if path == ref or path.startswith(ref + ".")), None)
            if used:
                flags.append(f"uses the course's own {used} (line {node.lineno})")
    return list(dict.fromkeys(flags))


def course_bindings(sources: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Names the cells bind to course modules ({'dqn': 'utils.dqn'}) and to names in them ({'dqn_train': 'utils.dqn.train'})."""
    modules, aliases = {"utils": "utils"}, {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "utils":
                        modules[alias.asname or "utils"] = alias.name if alias.asname else "utils"
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "utils":
                for alias in node.names:
                    target = modules if node.module == "utils" else aliases  # `from utils import dqn`: a module
                    target[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return modules, aliases


def dotted_paths(node: ast.AST, modules: dict[str, str], aliases: dict[str, str]) -> list[str]:
    """The course paths a node names: 'utils.dqn.td_targets' for `dqn.td_targets` or `from utils.dqn import td_targets`."""
    if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "utils":
        return [f"{node.module}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases:
        return [aliases[node.id]]
    if isinstance(node, ast.Attribute):
        parts, root = [node.attr], node.value
        while isinstance(root, ast.Attribute):
            parts.insert(0, root.attr)
            root = root.value
        if isinstance(root, ast.Name) and root.id in modules:
            return [".".join([modules[root.id], *parts])]
        if isinstance(root, ast.Name) and root.id in aliases:
            return [".".join([aliases[root.id], *parts])]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        base = dotted_paths(node.args[0], modules, aliases) if isinstance(node.args[0], ast.Attribute) else \
            [modules.get(node.args[0].id, "")] if isinstance(node.args[0], ast.Name) else []
        return [f"{b}.{node.args[1].value}" for b in base if b]
    return []


# Runs in the kernel: prints, after the marker, one JSON object with
# - "fingerprint": what the probes rely on, mapped to an identity: attributes of `builtins`, the
#   grader's kernel module and the course's `utils` modules by object identity, lists (import paths
#   and hooks, IPython's transformers and event callbacks) by their items; compared with the one
#   taken before the first exercise cell;
# - "planted": attributes of those modules that hold code defined in a notebook cell, and course
#   modules loaded from anywhere but the grader's clean copy: these need no earlier fingerprint.
SNAPSHOT_SOURCE = """\
def _grader_snapshot():
    import builtins, json, os, sys
    seen, planted = {}, []
    def note_module(name, module):
        seen["sys.modules[%r]" % name] = id(module)
        for key, value in list(vars(module).items()):
            if not (key.startswith("__") and key.endswith("__")) or key in ("__path__", "__import__", "__build_class__"):
                seen["%s.%s" % (name, key)] = id(value)
                try:
                    from_cell = type(value).__module__ == "__main__" or getattr(value, "__module__", None) == "__main__"
                except Exception:
                    from_cell = True
                if from_cell:
                    planted.append("%s.%s holds code from a notebook cell" % (name, key))
    for name in ("builtins", "_grader_kernel"):
        note_module(name, sys.modules[name])
    for name in [n for n in sys.modules if n == "utils" or n.startswith("utils.")]:
        module = sys.modules[name]
        note_module(name, module)
        if not str(getattr(module, "__file__", "")).startswith(CLEAN_COPY + os.sep):
            planted.append("%s was loaded from outside the course's copy" % name)
        if hasattr(module, "__path__"):
            seen["%s.__path__ entries" % name] = [str(p) for p in module.__path__]
    for name in ("path", "meta_path", "path_hooks"):
        seen["sys.%s" % name] = [id(item) if name != "path" else item for item in getattr(sys, name)]
    seen["sys.stdout"] = id(sys.stdout)
    shell = get_ipython()
    for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        seen["IPython %s" % name] = [id(item) for item in getattr(shell, name)]
    seen["IPython event callbacks"] = {k: [id(f) for f in v] for k, v in shell.events.callbacks.items()}
    seen["IPython run_cell"] = [id(type(shell).run_cell), "run_cell" in vars(shell)]
    for key in ("builtins._", "builtins.__", "builtins.___", "builtins.input"):  # IPython sets these per cell
        seen.pop(key, None)
    planted = [p for p in planted if not p.startswith(("builtins._ ", "builtins.__ ", "builtins.___ "))]
    print(MARKER + json.dumps({"fingerprint": seen, "planted": planted}))
_grader_snapshot()
del _grader_snapshot
"""
MAX_REASONS = 4  # a cell that breaks the kernel changes hundreds of entries; the first few say enough


def snapshot_source(marker: str, clean_copy: str) -> str:
    """The snapshot code, printing its JSON after `marker`; course modules must come from `clean_copy`."""
    return SNAPSHOT_SOURCE.replace("MARKER", repr(marker), 1).replace("CLEAN_COPY", repr(clean_copy), 1)


def snapshot_changes(before: dict | None, after: dict | None) -> list[str]:
    """What exercise cells changed among what the checks rely on, in words (entries added later are ignored)."""
    if before is None:
        return []
    if after is None:
        return ["the grader's own cells no longer ran normally, so its fingerprint of the kernel could not be taken"]
    changed = [f"{key} was removed" for key in before["fingerprint"] if key not in after["fingerprint"]]
    changed += [f"{key} was replaced or changed" for key, value in before["fingerprint"].items()
                if key in after["fingerprint"] and after["fingerprint"][key] != value]
    changed += [item for item in after["planted"] if item not in before["planted"]]
    if len(changed) > MAX_REASONS:
        changed = changed[:MAX_REASONS] + [f"and {len(changed) - MAX_REASONS} more changes"]
    return changed
