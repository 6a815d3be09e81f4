"""Videos of an agent: record a rollout to an H.264 MP4 and embed it in the notebook."""
import base64
import itertools
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import imageio_ffmpeg
import numpy as np
from IPython.display import HTML

FPS = 50  # CartPole's own render_fps: one frame per 20 ms physics step, so videos play in real time
# yuv420p stores colour at half resolution, so frame sides must be even; libx264 pads to its
# 16-pixel macroblocks itself and crops on decoding. Every classic-control frame has even sides
# (CartPole and MountainCar 600x400, Acrobot 500x500), so ffmpeg encodes them as they are.
# Constant-rate-factor 30: a 500-step episode stays small enough to embed (target < 300 KB).
# One x264 thread: the number of cores does not change the output. Under load, x264 has rarely
# coded the first frame differently, decoding to the same pictures (README, Reproducibility).
FFMPEG_PARAMS = ["-crf", "30", "-preset", "medium", "-threads", "1"]

Policy = Callable[[np.ndarray], int]


@dataclass
class Rollout:
    """One recorded episode: a frame per state (the reset state included)."""

    frames: list = field(default_factory=list)
    states: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False

    @property
    def steps(self) -> int:
        """Number of environment steps taken (frames - 1)."""
        return len(self.actions)

    @property
    def total_reward(self) -> float:
        """Undiscounted return of the episode."""
        return float(sum(self.rewards))


def record_rollout(env, policy: Policy, max_frames: int = 1000) -> Rollout:
    """Run `policy` for one episode of `env` (render_mode="rgb_array"), keeping every frame.

    Stops when the episode terminates or is truncated, or after `max_frames` frames.
    Each 600x400 frame takes 720 kB: to only watch an episode, use `show_rollout`
    (or `encode_mp4(rollout.frames, fps=render_fps(env))`).
    """
    rollout = Rollout()
    rollout.frames = list(play_episode(env, policy, max_frames, rollout))
    return rollout


def play_episode(env, policy: Policy, max_frames: int, rollout: Rollout):
    """Yield the frames of one episode as it is played, recording all but the frames in `rollout`."""
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError("recording needs an env made with render=True (render_mode='rgb_array').")
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    state, _ = env.reset()
    rollout.states.append(state)
    yield env.render()
    while not (rollout.terminated or rollout.truncated) and len(rollout.states) < max_frames:
        action = _checked_action(policy(state), env)
        state, reward, rollout.terminated, rollout.truncated, _ = env.step(action)
        rollout.actions.append(action)
        rollout.rewards.append(float(reward))
        rollout.states.append(state)
        yield env.render()


def _checked_action(action, env) -> int:
    """Return `action` as a Python int, or explain why the policy's answer is not an action."""
    try:
        as_int = int(action)
    except (TypeError, ValueError):
        raise TypeError(f"the policy returned {action!r}; expected an action index (int).") from None
    if not env.action_space.contains(as_int):
        raise ValueError(f"the policy returned action {as_int}; expected one of 0..{env.action_space.n - 1}.")
    return as_int


def encode_mp4(frames, fps: int = FPS) -> bytes:
    """Encode RGB frames (a list or any iterable) as an H.264 (yuv420p) MP4 and return its bytes.

    The same frames give the same pictures with the same ffmpeg binary (imageio-ffmpeg's), and
    almost always the same bytes (README, Reproducibility). When
    ffmpeg fails (a full disk, say), this raises RuntimeError instead of returning a partial file.
    """
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("encode_mp4 needs at least one frame.")
    shape = _frame_shape(first)
    with tempfile.TemporaryDirectory() as folder:
        path, log = Path(folder) / "rollout.mp4", Path(folder) / "ffmpeg.log"
        with open(log, "wb") as errors:
            process = subprocess.Popen(_ffmpeg_command(shape, fps, path), stdin=subprocess.PIPE, stderr=errors)
            _feed(process, itertools.chain([first], frames), shape)
        if process.returncode != 0:
            raise RuntimeError(f"ffmpeg could not encode the video ({_how_it_ended(process.returncode, log)})")
        return path.read_bytes()


def _feed(process: subprocess.Popen, frames, shape: tuple) -> None:
    """Write every frame to ffmpeg's stdin, then wait for it; kill it if a frame or the caller fails."""
    try:
        for number, frame in enumerate(frames, start=1):
            process.stdin.write(_checked_frame(frame, shape, number))
    except BrokenPipeError:
        pass  # ffmpeg stopped reading: its exit status and its log say why
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.communicate()


def _how_it_ended(code: int, log: Path) -> str:
    """ffmpeg's exit status (or the signal that stopped it) and the last line it printed."""
    said = log.read_text(errors="replace").strip().splitlines()
    ended = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return f"{ended}: {said[-1] if said else 'no message'}"


def _frame_shape(frame) -> tuple:
    """(height, width, 3) of the first frame, or why it cannot be encoded."""
    shape = np.shape(frame)
    if len(shape) != 3 or shape[2] != 3 or shape[0] % 2 or shape[1] % 2:
        raise ValueError(f"a video frame must be an RGB image (height, width, 3) with even sides; got shape {shape}.")
    return shape


def _checked_frame(frame, shape: tuple, number: int) -> bytes:
    """The raw bytes of a frame, or why it does not belong in this video."""
    array = np.asarray(frame)
    if array.shape != shape or array.dtype != np.uint8:
        raise ValueError(f"frame {number} is {array.dtype} {array.shape}; every frame must be uint8 {shape} like the first.")
    return array.tobytes()


def _ffmpeg_command(shape: tuple, fps: int, path: Path) -> list:
    """ffmpeg reading raw RGB frames from stdin and writing an H.264 MP4 to `path`."""
    height, width = shape[:2]
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}",
            "-pix_fmt", "rgb24", "-r", str(fps), "-i", "-", "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p",
            "-v", "error", *FFMPEG_PARAMS, str(path)]


def render_fps(env) -> int:
    """Frames per second at which `env`'s frames play in real time: its metadata's render_fps (FPS if absent)."""
    return int(env.metadata.get("render_fps", FPS))


def video_html(mp4: bytes, width: int = 450) -> HTML:
    """An HTML <video> holding the MP4 as base64, so it plays wherever the notebook goes."""
    data = base64.b64encode(mp4).decode("ascii")
    return HTML(
        f'<video width="{width}" controls loop playsinline '
        f'src="data:video/mp4;base64,{data}"></video>'
    )


def show_rollout(env, policy: Policy, max_frames: int = 1000) -> HTML:
    """Play one episode of `policy`, print its length and return, and embed its video.

    Frames go straight to the encoder, so even a 500-step episode needs little memory;
    the video plays at the env's own frame rate (`render_fps`), in real time.
    """
    rollout = Rollout()
    mp4 = encode_mp4(play_episode(env, policy, max_frames, rollout), fps=render_fps(env))
    ending = "terminated" if rollout.terminated else "truncated" if rollout.truncated else "stopped at the frame cap"
    print(f"{rollout.steps} steps, return {rollout.total_reward:.0f} ({ending})")
    return video_html(mp4)
