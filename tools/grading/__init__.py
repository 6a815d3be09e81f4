"""The instructor's grader: run the course's notebook with each submission's exercise cells, and its checks.

`tools.grade` is the command line; `course` knows the course notebooks and recognises a
submission, `submissions` finds and reads the handed-in files, `plan` decides which cells run
(the course's, with the student's exercise cells), `worker` grades one file in its own
process, `kernel` starts that process's limited IPython kernel, `sandbox` gives kernels a
clean copy of `utils` and a bubblewrap sandbox each, `tamper` flags exercise cells that
tamper with grading, `runner` runs the workers in parallel, `integrity` proves that grading
left the submissions unchanged, `shards` splits a class and merges the parts, `review`
accepts flagged exercises an instructor has read, and `report` writes grades.csv,
gradebook.csv, report.md, timings.csv and the feedback files.
"""
