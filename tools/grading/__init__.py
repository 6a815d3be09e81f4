"""The instructor's grader: run each submitted notebook in its own limited kernel, then its checks.

`tools.grade` is the command line; `course` knows the course notebooks and recognises a
submission, `submissions` finds and reads the handed-in files, `worker` grades one file in
its own process, `kernel` starts that process's limited IPython kernel, `runner` runs the
workers in parallel, `integrity` proves that grading left the submissions unchanged, and
`report` writes grades.csv, gradebook.csv, report.md, timings.csv and the feedback files.
"""
