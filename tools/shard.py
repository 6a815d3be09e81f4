"""`--shard I/N`: part I of N of a list, so that N machines (a job array on any scheduler) share the work.

Used by the grader (students) and the benchmarks' sweeps (training runs); importing it costs nothing.
"""
import argparse
import re

SHARD = re.compile(r"(\d+)/(\d+)")


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/4"` as (2, 4); an argparse error, naming the form expected, for anything else."""
    match = SHARD.fullmatch(text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"--shard {text!r} is not of the form i/n with 1 <= i <= n, e.g. --shard 2/4")
    return int(match[1]), int(match[2])


def part_of(items: list, shard: tuple[int, int]) -> list:
    """Part I of N of `items`: every N-th item, in order, from the I-th."""
    index, count = shard
    return items[index - 1::count]
