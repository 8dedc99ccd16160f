"""Signal operators shared by the audio plugins: STFT as a tight frame, windows, quantisers."""

from unfold.signal.quantize import normalize_peak, quantize
from unfold.signal.stft import STFT, magnitude, make_window

__all__ = ["STFT", "magnitude", "make_window", "normalize_peak", "quantize"]
