"""The setup call every notebook makes: seeds, one torch thread, notices for unfinished exercises."""
import random

import numpy as np
import torch

from tools.build_notebooks import student_source
from utils.notebook import setup_notebook, stub_notice, unfinished_exercises

SOLVED = '''def push(self, state):
    """Store one transition."""
    ### BEGIN SOLUTION
    self.items.append(state)
    ### END SOLUTION
'''


def test_setup_seeds_everything_and_uses_one_thread():
    torch.set_num_threads(2)
    setup_notebook(7)
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    assert torch.get_num_threads() == 1
    setup_notebook(7)
    assert draws == (random.random(), np.random.rand(), torch.rand(1).item())


def test_the_generators_stub_is_announced_and_a_solution_is_not():
    stubbed = student_source(SOLVED, "2.1: ReplayMemory")
    assert unfinished_exercises(stubbed) == ["Exercise 2.1: ReplayMemory"]
    assert stub_notice(stubbed).startswith("✏️ Exercise 2.1: ReplayMemory is not done yet")
    assert stub_notice(SOLVED) == "" and stub_notice(stubbed.replace("raise NotImplementedError", "# raise")) == ""


def test_an_exercise_with_several_methods_is_named_once():
    stubbed = student_source(SOLVED + "\n" + SOLVED.replace("push", "sample"), "2.1: ReplayMemory")
    assert stubbed.count("raise NotImplementedError") == 2
    assert unfinished_exercises(stubbed) == ["Exercise 2.1: ReplayMemory"]
    assert stub_notice(stubbed).count("Exercise 2.1") == 1
    assert stub_notice(stubbed).startswith("✏️ Exercise 2.1: ReplayMemory is not done yet")
