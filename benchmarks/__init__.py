"""Benchmarks of the course's DQN against the seed notebook's loop and Stable-Baselines3.

Run `python -m benchmarks.solve_rate --help`. Nothing in the course imports this package.
"""
