"""Writing generated videos: an H.264 mp4 sink that streams frames to the file as they become final.

Generators may hand over chunks out of time order (inverted anti-drifting produces the end of the
video first). `Mp4Sink` encodes every chunk that continues the time order at once and parks the
others in small .npy files beside the output until the gap before them is filled, so memory stays
bounded by one chunk whatever the video length. The mp4 is written to a temporary name and renamed
into place at `close()`, so a crash never leaves a truncated video under the final name.

Every mp4 is a pure function of its frames, frame rate and CRF: x264 runs single-threaded
(its output otherwise depends on how many CPUs the process may use) and the container carries
no creation time. `write_video` encodes a whole array at once with the same settings.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import av
import numpy as np


def h264_options(crf: int) -> dict[str, str]:
    """x264 settings that make the encoded bytes depend on the frames only (not on the machine)."""
    return {"crf": str(int(crf)), "preset": "medium", "threads": "1"}


def open_h264(path: str | os.PathLike, width: int, height: int, fps: int, crf: int):
    """(container, stream) of a new H.264 (yuv420p) mp4 at `path` with `h264_options`."""
    container = av.open(str(path), mode="w", format="mp4")
    stream = container.add_stream("libx264", rate=int(fps))
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.options = h264_options(crf)
    return container, stream


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int, crf: int = 12) -> None:
    """Encode uint8 frames (T, H, W, 3) as H.264 mp4 at `path` (not atomic: write to a temporary
    name and rename). Odd heights or widths are padded by one edge pixel (yuv420p needs even sizes).
    """
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected uint8 frames (T, H, W, 3) with T >= 1, got {frames.shape}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    container, stream = open_h264(path, frames.shape[2], frames.shape[1], fps, crf)
    with container:
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


class FrameOrderError(ValueError):
    """Chunks handed to a sink overlap or leave a gap."""


class Mp4Sink:
    """A `framepack.generator.FrameSink` writing H.264 (yuv420p) mp4, optionally also lossless frames.

    Args:
        path: the .mp4 to write.
        fps: frame rate stored in the file.
        crf: x264 constant rate factor (0 = lossless luma, 18 visually lossless, higher = smaller).
        lossless_path: if given, also write every frame losslessly as uint8 (T, H, W, 3) under the key
            "frames" of this .npz file.
        on_frames: optional callback(first_index, count) after a chunk has been put.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: int = 16,
        crf: int = 18,
        lossless_path: str | os.PathLike | None = None,
        on_frames=None,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise ValueError(f"output video must end in .mp4, got {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = int(fps)
        self.crf = int(crf)
        self.lossless_path = Path(lossless_path) if lossless_path is not None else None
        self.on_frames = on_frames
        self._spill_dir = Path(tempfile.mkdtemp(prefix=f".{self.path.stem}.", dir=self.path.parent))
        self._tmp_video = self._spill_dir / "video.mp4"
        self._container = None
        self._stream = None
        self._next_index = 0  # first time index not yet encoded
        self._pending: dict[int, tuple[Path, int]] = {}  # first index -> (spill file, frame count)
        self._lossless_parts: list[Path] = []
        self._closed = False
        self.frames_written = 0

    # -- FrameSink --------------------------------------------------------------------------------

    def put(self, first_index: int, frames: np.ndarray) -> None:
        """Accept frames uint8 (T, H, W, 3) for time indices first_index .. first_index + T − 1."""
        if self._closed:
            raise RuntimeError(f"sink for {self.path} is already closed")
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
        if first_index < self._next_index or any(
            first_index < start + count and start < first_index + len(frames)
            for start, (_, count) in self._pending.items()
        ):
            raise FrameOrderError(f"frames {first_index}..{first_index + len(frames) - 1} overlap frames already given")
        if first_index == self._next_index:
            self._encode(frames)
            self._drain()
        else:
            spill = self._spill_dir / f"chunk_{first_index:08d}.npy"
            np.save(spill, frames)
            self._pending[first_index] = (spill, len(frames))
        if self.on_frames is not None:
            self.on_frames(first_index, len(frames))

    def close(self) -> None:
        """Finish the file; raises FrameOrderError (and writes nothing) if frames are missing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending:
                first_missing = self._next_index
                raise FrameOrderError(
                    f"frames {first_missing}..{min(self._pending) - 1} were never given; "
                    f"cannot assemble {self.path}"
                )
            if self._container is None:
                raise FrameOrderError(f"no frames were given; cannot write {self.path}")
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
            os.replace(self._tmp_video, self.path)
            if self.lossless_path is not None:
                frames = np.concatenate([np.load(part) for part in self._lossless_parts])
                self.lossless_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.lossless_path.with_name(self.lossless_path.stem + ".tmp.npz")
                np.savez_compressed(tmp, frames=frames)
                os.replace(tmp, self.lossless_path)
        finally:
            if self._container is not None:
                self._container.close()
            shutil.rmtree(self._spill_dir, ignore_errors=True)

    # -- internals --------------------------------------------------------------------------------

    def _encode(self, frames: np.ndarray) -> None:
        if self._container is None:
            height, width = frames.shape[1:3]
            if height % 2 or width % 2:
                raise ValueError(f"H.264 (yuv420p) needs even frame sizes, got {width}x{height}")
            self._container, self._stream = open_h264(self._tmp_video, width, height, self.fps, self.crf)
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        if self.lossless_path is not None:
            part = self._spill_dir / f"lossless_{self._next_index:08d}.npy"
            np.save(part, frames)
            self._lossless_parts.append(part)
        self._next_index += len(frames)
        self.frames_written += len(frames)

    def _drain(self) -> None:
        """Encode parked chunks that now continue the time order."""
        while self._next_index in self._pending:
            spill, _ = self._pending.pop(self._next_index)
            frames = np.load(spill)
            spill.unlink()
            self._encode(frames)


def read_video(path: str | os.PathLike) -> np.ndarray:
    """Decode a video file into uint8 (T, H, W, 3) RGB frames."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if not frames:
        raise ValueError(f"{str(path)!r} holds no video frames")
    return np.stack(frames)
