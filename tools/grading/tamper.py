"""Find exercise cells that tamper with the grading machinery, for an instructor to review.

Two independent looks: `static_flags` reads the exercise cell's code for constructs an answer
never needs (reaching builtins, sys.modules, import paths, IPython's input transformers, the
course's solutions or checkpoints, rigged comparison methods); `SNAPSHOT_SOURCE` runs in the
kernel and fingerprints what the checks rely on, so that `snapshot_changes` can name whatever an
exercise cell replaced, however obfuscated its code was.
"""
import ast

from tools.grading.plan import imported_names

# Modules an exercise never needs and that reach the interpreter, the file system or the grader.
SUSPECT_MODULES = {
    "builtins", "sys", "os", "importlib", "ctypes", "gc", "inspect", "IPython", "ipykernel", "subprocess",
    "shutil", "pathlib", "io", "pickle", "marshal", "types", "numbers", "abc", "resource", "signal",
    "threading", "multiprocessing", "socket", "site", "runpy", "code", "codeop", "atexit", "glob",
    "nbformat", "nbclient", "jupyter_client", "tools", "solutions", "_grader_kernel",
}
SUSPECT_CALLS = {"exec", "eval", "compile", "__import__", "globals", "vars", "setattr", "delattr", "open",
                 "breakpoint", "get_ipython", "locals"}
SUSPECT_ATTRIBUTES = {
    "__builtins__", "__import__", "__path__", "__globals__", "__code__", "__subclasses__", "__loader__",
    "__spec__", "__dict__", "modules", "meta_path", "path_hooks", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "events", "register", "f_globals", "f_back",
    "sys", "os", "builtins", "importlib",  # modules that other modules import: torch.sys.modules
}
METHODS_OF_THE_SAME_NAME = {"modules"}  # nn.Module.modules() is an answer's business; sys.modules is not
# Methods that let an object pass a comparison or a type test it should fail.
RIGGED_METHODS = {"__eq__", "__ne__", "__instancecheck__", "__subclasscheck__", "__subclasshook__"}
# Names that hold modules in the course's notebooks (their setup cells import them under these names).
MODULE_NAMES = {"np", "numpy", "torch", "nn", "F", "math", "random", "utils", "gym", "gymnasium", "dqn", "stats"}
SUSPECT_TEXT = ("solutions", "checkpoints", "builtins", "_grader", ".ipynb", "utils.checks")
SUSPECT_NAMES = {"__builtins__"}


def static_flags(source: str) -> list[str]:
    """What in an exercise cell's code could tamper with grading, each with its line ([] for ordinary code)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the cell fails when it runs; there is nothing it can tamper with
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    modules = MODULE_NAMES | {name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                              for name in imported_names(node)}
    flags = []
    for node in ast.walk(tree):
        reason = "" if id(node) in called and getattr(node, "attr", "") in METHODS_OF_THE_SAME_NAME else node_flag(node)
        reason = reason or module_assignment(node, modules)
        if reason:
            flags.append(f"{reason} (line {node.lineno})")
    return list(dict.fromkeys(flags))


def node_flag(node: ast.AST) -> str:
    """Why one syntax node is suspect, or ""."""
    if isinstance(node, ast.Import):
        bad = [alias.name for alias in node.names if suspect_module(alias.name)]
        return f"imports {', '.join(bad)}" if bad else ""
    if isinstance(node, ast.ImportFrom):
        return f"imports from {node.module}" if suspect_module(node.module or "") else ""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPECT_CALLS:
        return f"calls {node.func.id}()"
    if isinstance(node, ast.Attribute) and node.attr in SUSPECT_ATTRIBUTES:
        return f"uses .{node.attr}"
    if isinstance(node, ast.Name) and node.id in SUSPECT_NAMES | SUSPECT_CALLS and not isinstance(node.ctx, ast.Load):
        return f"rebinds {node.id}"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in RIGGED_METHODS:
        return f"defines {node.name}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        found = [text for text in SUSPECT_TEXT if text in node.value]
        return f"names {found[0]!r} in a string" if found else ""
    return ""


def module_assignment(node: ast.AST, modules: set[str]) -> str:
    """"assigns np.isclose" when `node` rebinds or deletes an attribute of a module, else ""."""
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
    """Is an imported module one an exercise never needs (or the course's checks themselves)?"""
    return name.split(".")[0] in SUSPECT_MODULES or name.startswith("utils.checks") or "solution" in name


# Runs in the kernel: prints, after the marker, one JSON object with
# - "fingerprint": what the checks rely on, mapped to an identity: module attributes by object
#   identity, lists (import paths, IPython transformers) by their items; compared with the one
#   taken before the first exercise cell;
# - "planted": attributes of those modules that hold code defined in a notebook cell, classes
#   from a notebook cell registered as `numbers` ABCs, and course modules loaded from anywhere
#   but the grader's clean copy: these need no earlier fingerprint.
SNAPSHOT_SOURCE = """\
def _grader_snapshot():
    import abc, builtins, json, numbers, os, sys
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
    for name in ("builtins", "math", "numbers", "random", "numpy", "torch", "_grader_kernel"):
        if name in sys.modules:  # modules the notebook has not imported yet cannot have been changed
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
    shell = get_ipython()
    for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        seen["IPython %s" % name] = [id(item) for item in getattr(shell, name)]
    seen["IPython event callbacks"] = {k: [id(f) for f in v] for k, v in shell.events.callbacks.items()}
    seen["IPython run_cell"] = [id(type(shell).run_cell), "run_cell" in vars(shell)]
    for cls in (numbers.Number, numbers.Complex, numbers.Real, numbers.Rational, numbers.Integral):
        for registered in abc._get_dump(cls)[0]:
            if getattr(registered(), "__module__", None) == "__main__":
                planted.append("numbers.%s has a class from a notebook cell registered" % cls.__name__)
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
