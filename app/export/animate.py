"""Training animations: which recorded steps become frames, the frame loop, and
the encoders (MP4: H.264/yuv420p through the ffmpeg that imageio-ffmpeg carries;
GIF: Pillow, one frame at a time).

The frame loop renders on the calling (GUI) thread, a frame at a time
(``AnimationJob.step(budget)``: the window calls it from a timer, the CLI in a
loop), and hands the pixels to the encoder's Worker (model/background.py)
through a short bounded line. The
file is written to a temporary file beside the target and renamed when the
last frame is in; cancel or an error removes the temporary file, so no
half-written file is left behind.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from app.export.figure import (
    ExportError,
    FigureRenderer,
    check_output,
    discard,
    finish_file,
    qimage_bgra,
    temp_path,
    write_error,
)
from model.background import Outcome, Worker

ANIMATION_FORMATS = (".mp4", ".gif")
DEFAULT_FRAMES = 150
MAX_FRAMES = 100_000
FPS_MAX = 120
GIF_FPS_MAX = 50  # GIF delays are whole hundredths of a second; players clamp faster ones
ORBIT_MAX = 720  # degrees the 3D camera may turn over one animation (two full turns either way)
X264_PARAMS = ["-preset", "veryfast", "-crf", "20", "-movflags", "+faststart"]


# ------------------------------------------------------------------ step plan
def select_steps(recorded: Sequence[int], start: int | None = None, end: int | None = None,
                 frames: int | None = None, stride: int | None = None, log_time: bool = False) -> np.ndarray:
    """The recorded step shown in each frame (at or before each frame's time).

    Frame times run from ``start`` to ``end`` (default: the first and latest
    recorded steps), either ``frames`` of them (default DEFAULT_FRAMES) evenly
    spaced in steps, or in log(1 + step) with ``log_time`` (early training
    changes fastest), or one every ``stride`` steps (and the end). A frame's
    snapshot is the latest one recorded at or before its time, so frames may
    repeat a snapshot where the history is sparse: time stays true.
    """
    rec = np.asarray(recorded, dtype=np.int64)
    if rec.size == 0:
        raise ExportError("run", "the history is empty")
    first, latest = int(rec[0]), int(rec[-1])
    if first == latest:
        raise ExportError("run", f"holds one recorded step ({first}): there is no training to animate (draw it "
                                 f"with main.py export)")
    s0 = first if start is None else int(start)
    s1 = latest if end is None else int(end)
    if not first <= s0 <= latest:
        raise ExportError("--from", f"must be from {first} to {latest} (the recorded steps), got {s0}")
    if not first <= s1 <= latest:
        raise ExportError("--to", f"must be from {first} to {latest} (the recorded steps), got {s1}")
    if s1 <= s0:
        raise ExportError("--to", f"must be greater than --from ({s0}), got {s1}")
    if frames is not None and stride is not None:
        raise ExportError("--frames", "give --frames or --stride, not both")
    if stride is not None:
        if log_time:
            raise ExportError("--log-time", "spaces a number of frames (--frames), not a --stride")
        if not 1 <= stride <= s1 - s0:
            raise ExportError("--stride", f"must be from 1 to {s1 - s0} (the steps from {s0} to {s1}), got {stride}")
        times: np.ndarray = np.arange(s0, s1 + 1, int(stride), dtype=np.int64)
        if times[-1] != s1:
            times = np.append(times, s1)
        if times.size > MAX_FRAMES:
            raise ExportError("--stride", f"gives {times.size:,} frames; at most {MAX_FRAMES:,} (a larger stride)")
    else:
        k = DEFAULT_FRAMES if frames is None else int(frames)
        if not 2 <= k <= MAX_FRAMES:
            raise ExportError("--frames", f"must be from 2 to {MAX_FRAMES:,}, got {k}")
        if log_time:
            times = np.geomspace(s0 + 1.0, s1 + 1.0, k) - 1.0
        else:
            times = np.linspace(float(s0), float(s1), k)
        times = np.floor(times + 1e-9).astype(np.int64)
        times[0], times[-1] = s0, s1
    idx = np.searchsorted(rec, times, side="right") - 1
    return rec[np.clip(idx, 0, rec.size - 1)]


def even_size(w: int, h: int) -> tuple[int, int]:
    """H.264 with yuv420p needs even sides: round odd ones up."""
    return w + (w % 2), h + (h % 2)


# ------------------------------------------------------------------- encoders
class Mp4Encoder:
    """H.264 (libx264), yuv420p, through the ffmpeg that imageio-ffmpeg carries, run here
    (not through imageio_ffmpeg.write_frames, which drops ffmpeg's exit status): frames
    are BGRA bytes on ffmpeg's stdin; ``close`` waits for ffmpeg and raises ExportError
    with its own last words when it failed (e.g. a full disk while it writes the index
    at the end: the file would be unplayable, "moov atom not found")."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float):
        import subprocess
        import tempfile
        from fractions import Fraction

        import imageio_ffmpeg

        w, h = size
        if w % 2 or h % 2:
            raise ExportError("--size", f"MP4 (H.264, yuv420p) needs even sides, got {w}x{h}")
        self.path = self.name = Path(path)  # name: the file named in messages (the target, not the temporary)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo",
               "-s", f"{int(w)}x{int(h)}", "-pix_fmt", "bgra", "-r", str(Fraction(fps).limit_denominator()),
               "-i", "-", "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-v", "error",
               *X264_PARAMS, str(self.path)]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - ffmpeg's messages for the error line, open while it runs
        # its own session: a Ctrl+C in the terminal reaches this program, which stops the encoder itself
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.log,
                                     start_new_session=True)

    def _failed(self) -> ExportError:
        try:
            self.log.seek(0)
            lines = [ln.strip() for ln in self.log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            lines = []
        if any("no space left" in ln.lower() for ln in lines):
            why = "the disk is full"
        else:
            last = lines[-1][:300] if lines else f"ffmpeg exited with status {self.proc.returncode}"
            why = f"the MP4 encoder failed ({last})"
        return ExportError("--out", f"cannot write {self.name}: {why}", status=1)

    def _stdin(self) -> IO[bytes]:
        stdin = self.proc.stdin
        assert stdin is not None, "the encoder is started with stdin=PIPE"
        return stdin

    def write(self, frame: bytes) -> None:
        try:
            self._stdin().write(frame)
        except (BrokenPipeError, OSError):
            self.proc.wait()
            raise self._failed() from None

    def close(self) -> None:
        try:
            self._stdin().close()
        except OSError:
            pass
        self.proc.wait()
        try:
            if self.proc.returncode != 0:
                raise self._failed()
        finally:
            self.log.close()

    def abort(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - cleanup of an encoder that is being aborted
            pass
        try:
            self._stdin().close()
        except Exception:  # noqa: BLE001 - cleanup of an encoder that is being aborted
            pass
        self.log.close()


class GifEncoder:
    """Animated GIF through Pillow, written frame by frame (constant memory): each frame
    quantized to its own 256-colour table (the flat colours of the views come out exact)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float):
        self.path = self.name = Path(path)  # name: the file named in messages
        self.size = (int(size[0]), int(size[1]))
        self.delay_ms = max(20, int(round(100.0 / fps)) * 10)
        self.f = open(path, "wb")  # noqa: SIM115 - held open across put() calls, closed by finish() or abort()
        self.first = True

    def write(self, frame: bytes) -> None:
        from PIL import GifImagePlugin, Image

        im = Image.frombuffer("RGBA", self.size, frame, "raw", "BGRA", 0, 1).convert("RGB")
        q = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        if self.first:
            header, _ = GifImagePlugin.getheader(q, info={"loop": 0, "duration": self.delay_ms})
            for chunk in header:
                self.f.write(chunk)
        for chunk in GifImagePlugin.getdata(q, duration=self.delay_ms, include_color_table=not self.first):
            self.f.write(chunk)
        self.first = False

    def close(self) -> None:
        self.f.write(b";")
        self.f.close()

    def abort(self) -> None:
        try:
            self.f.close()
        except Exception:  # noqa: BLE001 - cleanup on abort: the first error is the one reported
            pass


class EncoderThread:
    """Feeds an encoder on a Worker (model/background.py, thread ``work:export-encoder``): a pipe.
    Frames go through a bounded line (``depth``) in order; ``put`` holds the renderer while the
    line is full (``ready()`` says whether a frame can be handed over now). The first failed
    write stops the line (``stop_on_failure``) and is raised in the renderer's thread, once, at
    its next ``put`` or at ``finish``; the frames behind it are dropped. The CLI runs no Qt event
    loop, so the outcome is delivered directly: the Worker keeps the error for the renderer."""

    def __init__(self, encoder: Mp4Encoder | GifEncoder, depth: int = 4):
        self.encoder = encoder
        self.error: BaseException | None = None
        self.worker = Worker("export-encoder", self._deliver, depth=depth, stop_on_failure=True)

    def _deliver(self, outcome: Outcome) -> None:
        if not outcome.ok and self.error is None:
            self.error = outcome.error

    def ready(self) -> bool:
        return self.worker.waiting() < (self.worker.depth or 1)

    def idle(self) -> bool:
        """Every frame handed over has been taken by the encoder."""
        return self.worker.waiting() == 0

    def _check(self) -> None:
        if self.error is not None:
            if isinstance(self.error, ExportError):
                raise self.error
            if isinstance(self.error, OSError):  # GIF: Pillow's writes are plain file writes
                raise write_error(getattr(self.encoder, "name", "the file"), self.error)
            raise ExportError("--out", f"encoding failed: {' '.join(str(self.error).split())[:300]}", status=1)

    def put(self, frame: bytes) -> None:
        """Hand a frame over (waiting while the line is full); raises the encoder's failure."""
        self._check()
        if not self.worker.submit(lambda: self.encoder.write(frame)):
            self._check()  # the failure that stopped the line
            raise ExportError("--out", "the encoder stopped", status=1)

    def finish(self) -> None:
        """Wait for every frame to be written, then close the encoder; raises its failure."""
        self.worker.close(drain=True)
        self._check()
        try:
            self.encoder.close()
        except OSError as exc:  # GIF: the last write or the close met a full disk
            raise write_error(getattr(self.encoder, "name", "the file"), exc) from None

    def abort(self) -> None:
        """Drop the frames waiting, wait (at most 10 s) for the one being written, abort the encoder."""
        self.worker.close(10.0)
        self.encoder.abort()


def open_encoder(path: Path, size: tuple[int, int], fps: float) -> Mp4Encoder | GifEncoder:
    return (Mp4Encoder if path.suffix.lower() == ".mp4" else GifEncoder)(path, size, fps)


def check_orbit(orbit: float) -> float:
    orbit = float(orbit)
    if not (math.isfinite(orbit) and -ORBIT_MAX <= orbit <= ORBIT_MAX):
        raise ExportError("--orbit", f"must be from -{ORBIT_MAX} to {ORBIT_MAX} degrees, got {orbit:g}")
    return orbit


def check_fps(fps: float, ext: str) -> float:
    fps = float(fps)
    top = GIF_FPS_MAX if ext == ".gif" else FPS_MAX
    if not (math.isfinite(fps) and 1 <= fps <= top):
        raise ExportError("--fps", f"must be from 1 to {top} frames per second{' for GIF' if ext == '.gif' else ''}, "
                                   f"got {fps:g}")
    return fps


# ------------------------------------------------------------------ the job
class AnimationJob:
    """Render ``steps`` through ``renderer`` and encode them to ``path``.

    ``frame_at(step) -> Frame`` (model.analysis.frame). ``orbit``: degrees the 3D camera turns
    over the whole animation (0: none). Drive it with ``step(budget_s)`` until it
    returns False (or ``run()``), then ``finish()``; ``cancel()`` at any time
    removes the temporary file.
    """

    def __init__(self, renderer: FigureRenderer, frame_at: Callable, steps: Sequence[int],
                 path: str | os.PathLike[str], fps: float = 30, orbit: float = 0.0, replace: bool = False):
        self.replace = bool(replace)
        self.target = check_output(path, ANIMATION_FORMATS, replace=self.replace)
        self.fps = check_fps(fps, self.target.suffix.lower())
        self.renderer = renderer
        self.frame_at = frame_at
        self.steps = np.asarray(steps, dtype=np.int64)
        self.total = int(self.steps.size)
        self.orbit = check_orbit(orbit)
        o = renderer.options
        if self.target.suffix.lower() == ".mp4":
            o.width, o.height = even_size(o.width, o.height)
        o.background = "white"  # video frames are opaque
        self.done = 0
        self.tmp: Path | None = None
        self.enc: EncoderThread | None = None
        self.t0: float | None = None
        self.state = "new"  # new | running | finished | cancelled | failed
        self._last: tuple[int, bytes] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.renderer.options.width, self.renderer.options.height

    def start(self) -> None:
        if self.total:
            self.renderer.prepare(self.frame_at(int(self.steps[-1])))
        self.tmp = temp_path(self.target)
        try:
            os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # the name is ours
            enc = open_encoder(self.tmp, self.size, self.fps)
            enc.name = self.target
            self.enc = EncoderThread(enc)
        except OSError as exc:
            discard(self.tmp)
            self.tmp = None
            self.state = "failed"
            raise write_error(self.target, exc) from None
        except BaseException:
            discard(self.tmp)
            self.tmp = None
            self.state = "failed"
            raise
        self.t0 = time.perf_counter()
        self.state = "running"

    def _render(self, i: int) -> bytes:
        step = int(self.steps[i])
        if self._last is not None and self._last[0] == step and not self.orbit:
            return self._last[1]  # a repeated snapshot: the same pixels
        frame = self.frame_at(step)
        if self.orbit:
            self.renderer.set_orbit(self.orbit * i / max(1, self.total - 1))
        data = qimage_bgra(self.renderer.image(frame))
        self._last = (step, data)
        return data

    def step(self, budget_s: float = 0.03, wait: bool = False) -> bool:
        """Render and queue frames for up to ``budget_s`` seconds; False when all are queued.
        Without ``wait`` it returns early while the encoder's queue is full (the GUI's timer
        comes back later); with it, it waits for the encoder (the CLI)."""
        if self.state == "new":
            self.start()
        if self.state != "running":
            return False
        t_end = time.perf_counter() + budget_s
        enc = self.enc
        assert enc is not None, "a running job has its encoder (start() made it)"
        try:
            while self.done < self.total:
                if not wait and not enc.ready() and self.done > 0:
                    break  # the encoder is behind: come back later rather than wait here
                enc.put(self._render(self.done))
                self.done += 1
                if time.perf_counter() >= t_end:
                    break
        except BaseException:
            self.cancel()
            self.state = "failed"
            raise
        return self.done < self.total

    def encoder_idle(self) -> bool:
        """True when every queued frame has been taken by the encoder (finish() then waits at most one frame)."""
        return self.enc is None or self.enc.idle()

    def finish(self) -> Path:
        """Wait for the encoder, then move the file into place."""
        try:
            assert self.enc is not None and self.tmp is not None, "finish() follows start()"
            self.enc.finish()
            finish_file(self.tmp, self.target, self.replace)
        except BaseException:
            self.cancel()
            self.state = "failed"
            raise
        self.state = "finished"
        self.tmp = None
        return self.target

    def cancel(self) -> None:
        if self.enc is not None:
            self.enc.abort()
            self.enc = None
        discard(self.tmp)
        self.tmp = None
        if self.state in ("new", "running"):
            self.state = "cancelled"

    def run(self, progress: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Path | None:
        """Every frame, then finish (the CLI's loop). ``should_stop`` is asked between slices of
        a quarter of a second: when it says True the job cancels (nothing is written) and run
        returns None. An exception (a KeyboardInterrupt too) cancels and re-raises."""
        try:
            while self.step(0.25, wait=True):
                if progress is not None:
                    progress(self.done, self.total)
                if should_stop is not None and should_stop():
                    self.cancel()
                    return None
            if progress is not None:
                progress(self.done, self.total)
            if should_stop is not None and should_stop():
                self.cancel()
                return None
            return self.finish()
        except BaseException:
            self.cancel()
            raise

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.perf_counter() - self.t0

    def eta(self) -> float | None:
        """Seconds left, from the mean time per frame so far (None before the first frame)."""
        if self.done == 0:
            return None
        return self.elapsed() / self.done * (self.total - self.done)
