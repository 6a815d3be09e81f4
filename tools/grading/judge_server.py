"""The grader's judge: `python -m _grader_judge` answers requests, one JSON line each, on stdin and stdout.

The grader copies this file, as `_grader_judge.py`, next to its clean copy of the graded course's
`utils` and runs it there, outside every kernel: it draws each check's inputs for the grading run
and judges the records the kernels' probes sent, with the course's own checks (see
utils.checks.protocol). It imports nothing from the grader. Requests:

- `{"op": "inputs", "check": "check_td_targets", "seed": 123}` -> `{"inputs": "<json text>"}`
- `{"op": "references", "check": ...}` -> `{"references": ["utils.dqn.td_targets", ...], "paths": [...]}`:
  the course's own answers to the exercise, and every dotted path under `utils` that leads to one
- `{"op": "verdict", "check": ..., "inputs": "<json text>", "record": "<json text>"}`
  -> `{"status": ..., "message": ..., "flags": [...]}`

Anything that goes wrong answers `{"error": "..."}`; the process keeps serving.
"""
import contextlib
import json
import sys


def answer(request: dict) -> dict:
    """The reply to one request."""
    import utils.checks

    check = getattr(utils.checks, str(request["check"]))
    if request["op"] == "inputs":
        return {"inputs": check.inputs_json(int(request["seed"]))}
    if request["op"] == "references":
        return {"references": list(check.references), "paths": reference_paths(check.references)}
    if request["op"] == "verdict":
        return check.verdict_json(str(request["inputs"]), str(request["record"]))
    raise ValueError(f"unknown request {request['op']!r}")


def reference_paths(references) -> list[str]:
    """The references' names and the names other loaded course modules re-export them under."""
    import importlib

    def resolve(name):
        module, _, attribute = name.rpartition(".")
        return getattr(importlib.import_module(module), attribute)

    wanted = {id(resolve(name)): name for name in references}
    paths = set(references)
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] == "utils" and not module_name.startswith("utils.checks"):
            paths.update(f"{module_name}.{key}" for key, value in vars(module).items() if id(value) in wanted)
    return sorted(paths)


def main() -> None:
    """Serve requests until stdin closes; anything the course's code prints goes to stderr."""
    replies = sys.stdout
    for line in sys.stdin:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                reply = answer(json.loads(line))
        except Exception as error:  # noqa: BLE001 (a bad request or a check's bug must not end the judge)
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
