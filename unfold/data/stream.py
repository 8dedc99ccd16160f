"""Audio in bounded memory: a random-access reader and an atomic block writer.

:class:`AudioSource` reads any sample range of a file, mixed to mono and at a target rate, with
zeros outside the signal; it never holds more than the range asked for (plus a resampling
margin). Opening scans the file once in blocks and refuses what :func:`unfold.data.io.load_audio`
refuses, with the same one-line messages: a missing or unreadable file, no samples, NaN or inf
samples. It records the mono peak for the callers' silence checks.

**Resampling** (another rate than the target) is ``torchaudio.functional.resample`` applied to a
range with a margin: with :math:`g = \\gcd(f_\\text{in}, f_\\text{out})`, input sample
:math:`k f_\\text{in}/g` maps to output sample :math:`k f_\\text{out}/g`, and an output sample
depends only on the input within the filter's width of it. A range is therefore resampled from an
input segment that starts on such a multiple, with more than the filter's width of extra input
each side, and cropped; this equals resampling the whole file up to float rounding (tested).

:class:`AudioWriter` writes blocks to a temporary file in the target folder and renames it over
the target on success; a non-finite block (InputDataError), any error or an interrupt removes the
temporary file and writes nothing. :class:`Staging` keeps a float32 result on disk (not in memory)
while its peak is not yet known, for the commands that scale the whole output by its peak.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf
import torch

from unfold.data.io import check_output, resample, unreadable
from unfold.errors import InputDataError, RunDirError

READ_BLOCK = 1 << 18  # samples per read while scanning (1 MiB of float32 per channel)
LOWPASS_WIDTH, ROLLOFF = 6, 0.99  # torchaudio.functional.resample's defaults


@dataclass
class AudioSource:
    """Mono float32 samples of ``path`` at ``rate`` Hz, read a range at a time.

    ``length`` is the number of samples at ``rate`` (resampling's ``ceil(L f_out / f_in)``);
    ``peak`` the largest absolute mono sample at the file's own rate; ``notes`` the conversions."""

    path: Path
    rate: int
    orig_rate: int
    channels: int
    orig_length: int
    peak: float
    notes: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | os.PathLike, rate: int | None = None) -> AudioSource:
        """Open and scan ``path`` (None: keep the file's own rate)."""
        p = Path(path)
        if not p.is_file():
            raise InputDataError(f"audio file {p} does not exist" if not p.exists()
                                 else f"audio input {p} is not a file")
        try:
            info = sf.info(str(p))
        except (RuntimeError, sf.LibsndfileError, OSError) as err:
            raise InputDataError(unreadable(p, err)) from None
        if info.frames <= 0:
            raise InputDataError(f"audio file {p} holds no samples")
        src = cls(p, info.samplerate if rate is None else rate, info.samplerate, info.channels,
                  info.frames, 0.0)
        bad, peak = 0, 0.0
        for block in src._raw_blocks(READ_BLOCK):
            bad += int((~np.isfinite(block)).any(axis=1).sum())
            if not bad:
                peak = max(peak, float(np.abs(block.mean(axis=1)).max()))
        if bad:
            raise InputDataError(f"audio file {p} holds {bad} NaN or inf samples; "
                                 "only finite samples can be processed")
        src.peak = peak
        if info.channels > 1:
            src.notes.append(f"{info.channels} channels -> mean")
        if src.rate != src.orig_rate:
            src.notes.append(f"{src.orig_rate} Hz -> {src.rate} Hz")
        return src

    def at_rate(self, rate: int) -> AudioSource:
        """This source read at ``rate`` Hz (resampled when it is not the file's own rate)."""
        notes = [n for n in self.notes if " Hz -> " not in n]
        if rate != self.orig_rate:
            notes.append(f"{self.orig_rate} Hz -> {rate} Hz")
        return replace(self, rate=rate, notes=notes)

    @property
    def length(self) -> int:
        if self.rate == self.orig_rate:
            return self.orig_length
        return math.ceil(self.rate * self.orig_length / self.orig_rate)

    def _raw_blocks(self, size: int) -> Iterator[np.ndarray]:
        try:
            with sf.SoundFile(str(self.path)) as f:
                yield from f.blocks(blocksize=size, dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError, OSError) as err:
            raise InputDataError(unreadable(self.path, err)) from None

    def _read_native(self, start: int, stop: int) -> torch.Tensor:
        """Mono samples ``[start, stop)`` at the file's rate, zeros outside the file."""
        out = np.zeros(max(stop - start, 0), dtype=np.float32)
        lo, hi = max(start, 0), min(stop, self.orig_length)
        if hi > lo:
            try:
                with sf.SoundFile(str(self.path)) as f:
                    f.seek(lo)
                    data = f.read(hi - lo, dtype="float32", always_2d=True)
            except (RuntimeError, sf.LibsndfileError, OSError) as err:
                raise InputDataError(unreadable(self.path, err)) from None
            out[lo - start : lo - start + data.shape[0]] = data.mean(axis=1)
        return torch.from_numpy(out)

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Samples ``[start, stop)`` at ``rate`` ``(stop - start,)``, zeros outside ``[0, length)``."""
        if self.rate == self.orig_rate:
            return self._read_native(start, stop)
        g = math.gcd(self.orig_rate, self.rate)
        fin, fout = self.orig_rate // g, self.rate // g
        width = math.ceil(LOWPASS_WIDTH * fin / (ROLLOFF * min(fin, fout)))
        margin = -(-width // fin) + 1  # groups of fin input samples beyond the filter's width
        k0, k1 = start // fout - margin, -(-stop // fout) + margin
        y = resample(self._read_native(k0 * fin, k1 * fin), self.orig_rate, self.rate)
        out = y[start - k0 * fout : stop - k0 * fout].clone()
        out[max(self.length - start, 0):] = 0  # resampling's target length: ceil(L fout / fin)
        out[: max(-start, 0)] = 0
        return out

    def blocks(self, size: int) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, samples)`` of consecutive blocks of ``size`` samples covering ``[0, length)``."""
        for start in range(0, self.length, size):
            yield start, self.read(start, min(start + size, self.length))


class AudioWriter:
    """Context manager writing mono blocks to ``path`` atomically (see module doc)."""

    def __init__(self, path: str | os.PathLike, rate: int, overwrite: bool = False,
                 subtype: str | None = None) -> None:
        self.path = check_output(path, overwrite)
        self.rate, self.subtype, self.written = rate, subtype, 0
        try:
            fd, tmp = tempfile.mkstemp(prefix=".unfold-", suffix=".tmp", dir=self.path.parent)
            os.close(fd)
        except OSError as e:
            raise RunDirError(f"cannot write {self.path}: {e.strerror or e}") from None
        self.tmp = Path(tmp)
        fmt = self.path.suffix.lstrip(".").upper()
        try:
            self._file = sf.SoundFile(tmp, "w", rate, 1, subtype=subtype, format=fmt)
        except (OSError, RuntimeError, sf.LibsndfileError) as e:
            self.tmp.unlink(missing_ok=True)
            raise RunDirError(f"cannot write {self.path}: {e}") from None

    def write(self, x: torch.Tensor) -> None:
        """Append mono samples ``(n,)``; refuses non-finite ones (nothing is written then)."""
        if x.dim() != 1:
            raise ValueError(f"x must be mono (samples,), got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise InputDataError(f"the result holds NaN or inf samples; {self.path} was not "
                                 "written")
        self._file.write(x.detach().cpu().float().numpy())
        self.written += x.numel()

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._file.close()
            if kind is None:
                os.replace(self.tmp, self.path)
        except (OSError, RuntimeError, sf.LibsndfileError) as e:
            self.tmp.unlink(missing_ok=True)
            raise RunDirError(f"cannot write {self.path}: {getattr(e, 'strerror', None) or e}"
                              ) from None
        finally:
            if kind is not None:
                self.tmp.unlink(missing_ok=True)


class Staging:
    """A float32 signal appended block by block to a temporary file next to ``folder``'s
    outputs, read back by range; tracks the peak. Deleted on exit."""

    def __init__(self, folder: Path) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=".unfold-", suffix=".f32", dir=folder)
            os.close(fd)
        except OSError as e:
            raise RunDirError(f"cannot write a temporary file in {folder}: {e.strerror or e}"
                              ) from None
        self.tmp, self.length, self.peak = Path(tmp), 0, 0.0

    def write(self, x: torch.Tensor) -> None:
        if not bool(torch.isfinite(x).all()):
            raise InputDataError("the result holds NaN or inf samples; nothing was written")
        a = x.detach().cpu().float().numpy()
        with open(self.tmp, "ab") as f:
            a.tofile(f)
        self.length += a.size
        if a.size:
            self.peak = max(self.peak, float(np.abs(a).max()))

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Samples ``[start, stop)``, zeros outside ``[0, length)``."""
        out = np.zeros(max(stop - start, 0), dtype=np.float32)
        lo, hi = max(start, 0), min(stop, self.length)
        if hi > lo:
            with open(self.tmp, "rb") as f:
                f.seek(4 * lo)
                out[lo - start : hi - start] = np.fromfile(f, dtype=np.float32, count=hi - lo)
        return torch.from_numpy(out)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tmp.unlink(missing_ok=True)
