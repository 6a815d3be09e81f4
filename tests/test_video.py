"""Videos: rollouts stop where the episode ends, and the MP4 holds exactly its frames."""
import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from utils.seeding import make_env
from utils.video import FPS, encode_mp4, record_rollout, render_fps, show_rollout, video_html


ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "last-run"


def balance(state) -> int:
    """A hand-written controller that keeps the pole up for all 500 steps from most starts."""
    return int(state[2] + 0.5 * state[3] > 0)


def decode(mp4: bytes, tmp_path):
    """Frame count and metadata of an MP4, read back with ffmpeg."""
    path = tmp_path / "video.mp4"
    path.write_bytes(mp4)
    reader = imageio.get_reader(path, format="FFMPEG")
    meta = reader.get_meta_data()
    frames = sum(1 for _ in reader)
    reader.close()
    return frames, meta


def test_video_of_terminated_episode_has_steps_plus_one_frames(tmp_path):
    rollout = record_rollout(make_env(1, render=True), lambda s: 0)
    assert rollout.terminated and not rollout.truncated
    assert len(rollout.frames) == rollout.steps + 1 == len(rollout.states)
    frames, meta = decode(encode_mp4(rollout.frames), tmp_path)
    assert frames == rollout.steps + 1
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["fps"] == FPS and meta["size"] == (600, 400)


def test_recording_stops_at_truncation(tmp_path):
    rollout = record_rollout(make_env(0, render=True, max_episode_steps=10), balance)
    assert rollout.truncated and not rollout.terminated
    assert rollout.steps == 10 and rollout.total_reward == 10.0
    assert decode(encode_mp4(rollout.frames), tmp_path)[0] == 11


def test_frame_cap_stops_a_long_episode():
    rollout = record_rollout(make_env(0, render=True), balance, max_frames=25)
    assert len(rollout.frames) == 25 and not (rollout.terminated or rollout.truncated)


def frames_digest(frames) -> str:
    """SHA-256 of the frames' bytes: shows whether they changed between two encodings."""
    return hashlib.sha256(b"".join(np.asarray(frame).tobytes() for frame in frames)).hexdigest()


def decoded(mp4: bytes, folder: Path) -> np.ndarray:
    """Every picture of an MP4, decoded by imageio's ffmpeg, as one (frames, height, width, 3) array."""
    path = folder / "video.mp4"
    path.write_bytes(mp4)
    return np.stack([picture for picture in imageio.get_reader(path, format="FFMPEG")])  # its len() is inf


def test_the_same_frames_give_the_same_video(tmp_path):
    frames = record_rollout(make_env(2, render=True), lambda s: 1).frames
    digest = frames_digest(frames)
    first, second = encode_mp4(frames), encode_mp4(frames)
    assert frames_digest(frames) == digest, "encoding changed the frames"
    if first != second:
        # Rare, under load (twice in about 25 full test runs): x264 coded the first frame in one
        # byte more, and every picture decoded the same. Keep both files, and require that.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "encoding_first.mp4").write_bytes(first)
        (ARTIFACTS / "encoding_second.mp4").write_bytes(second)
        assert np.array_equal(decoded(first, tmp_path), decoded(second, tmp_path)), \
            f"two encodings of the same frames show different pictures; both files are in {ARTIFACTS}"


# ffmpeg may write only 2,000 bytes, as on a full disk: past them the kernel stops it (SIGXFSZ).
FULL_DISK = """
import resource
import numpy as np
from utils.video import encode_mp4
frames = np.random.default_rng(0).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))
encode_mp4(frames)
"""


def test_a_failed_encoding_raises_instead_of_returning_a_partial_video():
    result = subprocess.run([sys.executable, "-c", FULL_DISK], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0, "a video ffmpeg could not write completely was returned as if it were whole"
    assert "RuntimeError: ffmpeg could not encode the video (killed by signal" in result.stderr


@pytest.mark.parametrize("frames, words", [
    ([], "needs at least one frame"),
    ([np.zeros((400, 600), np.uint8)], r"RGB image \(height, width, 3\) with even sides; got shape \(400, 600\)"),
    ([np.zeros((401, 600, 3), np.uint8)], "with even sides; got shape"),
    ([np.zeros((4, 6, 3), np.uint8), np.zeros((4, 8, 3), np.uint8)], r"frame 2 is uint8 \(4, 8, 3\); every frame"),
    ([np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6, 3))], "frame 2 is float64"),
])
def test_frames_that_cannot_be_encoded_are_explained(frames, words):
    with pytest.raises(ValueError, match=words):
        encode_mp4(frames)


def test_embedded_video_is_base64_mp4():
    html = show_rollout(make_env(3, render=True), lambda s: 1).data
    payload = re.search(r'src="data:video/mp4;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(payload)[4:8] == b"ftyp"
    assert "<video" in video_html(b"\x00").data


@pytest.mark.parametrize("answer, error, words", [
    (None, TypeError, "expected an action index"),
    (5, ValueError, "expected one of 0..1"),
])
def test_bad_policy_output_is_explained(answer, error, words):
    with pytest.raises(error, match=words):
        record_rollout(make_env(0, render=True), lambda s: answer)


def test_env_without_rgb_rendering_is_refused():
    with pytest.raises(ValueError, match="render=True"):
        record_rollout(make_env(0), balance)


def test_show_rollout_streams_every_frame_into_the_video(tmp_path, capsys):
    html = show_rollout(make_env(0, render=True, max_episode_steps=10), balance).data
    mp4 = base64.b64decode(re.search(r"base64,([^\"]+)\"", html).group(1))
    assert capsys.readouterr().out == "10 steps, return 10 (truncated)\n"
    assert decode(mp4, tmp_path)[0] == 11


@pytest.mark.parametrize("env_id, size, fps", [("Acrobot-v1", (500, 500), 15), ("MountainCar-v0", (600, 400), 30)])
def test_other_tasks_are_shown_at_their_size_in_real_time(env_id, size, fps, tmp_path, capsys):
    env = make_env(0, render=True, max_episode_steps=12, env_id=env_id)
    assert render_fps(env) == fps
    html = show_rollout(env, lambda s: 2).data
    mp4 = base64.b64decode(re.search(r"base64,([^\"]+)\"", html).group(1))
    assert capsys.readouterr().out == "12 steps, return -12 (truncated)\n"
    frames, meta = decode(mp4, tmp_path)
    # The frames are encoded as they are: no resizing to a multiple of 8 or 16.
    assert frames == 13 and meta["size"] == size and meta["fps"] == fps


def test_cartpole_is_shown_at_fps():
    assert render_fps(make_env(0, render=True)) == FPS == 50
