"""Prove that grading changed no submission: the SHA-256 of every file before and after grading.

Kernels never get the submission file itself, and where Linux user namespaces are available
the submissions folder is hidden from them; elsewhere their code can still reach it through
absolute paths, which this check cannot prevent, only make sure it never goes unnoticed.
"""
import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 20


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too), by path relative to it, with its SHA-256."""
    return {path.relative_to(folder).as_posix(): file_sha256(path)
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks so that a huge file does not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Each file that was changed, removed or added between two snapshots, in words, sorted by path."""
    found = []
    for path in sorted(before.keys() | after.keys()):
        if path not in after:
            found.append(f"`{path}` was deleted")
        elif path not in before:
            found.append(f"`{path}` was created")
        elif before[path] != after[path]:
            found.append(f"`{path}` was changed")
    return found
