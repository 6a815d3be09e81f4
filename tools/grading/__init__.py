"""The instructor's grader: run each submitted notebook in its own limited kernel, then its checks.

`tools.grade` is the command line; `course` knows the course notebooks and recognises a
submission, `submissions` finds and reads the handed-in files, `worker` grades one file in
its own process, `kernel` starts that process's limited IPython kernel, `runner` runs the
workers in parallel, and `report` writes grades.csv, report.md and the feedback files.
"""
