"""Shared code for the DQN-on-CartPole course: every notebook imports from here."""
import os

# CartPole renders with pygame; with no display, SDL must not try to open a window.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
