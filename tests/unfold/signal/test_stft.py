import pytest
import torch
import torchaudio

from unfold.signal.stft import STFT, magnitude, make_window

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _signal(batch, length, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, length, generator=g, dtype=dtype).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("window", ["sine", "sqrt-hann"])
@pytest.mark.parametrize("length", [4096, 44100, 1000])
def test_tight_frame_reconstructs_exactly(device, window, length):
    op = STFT(1024, 512, window=window).to(device)
    x = _signal(3, length, device=device)
    spec = op(x)
    assert spec.shape == (3, 513, op.n_frames(length))
    torch.testing.assert_close(op.adjoint(spec, length), x, rtol=0, atol=1e-12)
    # Parseval with the documented inner product
    torch.testing.assert_close(op.inner(spec, spec), (x * x).sum(-1), rtol=1e-12, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"window": "sqrt-hann", "pad_mode": "reflect"},
        {"n_fft": 400, "hop": 160, "window": "sqrt-hann", "drop_nyquist": True},
        {"n_fft": 64, "hop": 24, "pad_mode": "reflect"},
    ],
)
def test_adjointness(device, kwargs):
    op = STFT(length=3001, **kwargs).to(device)
    x = _signal(2, 3001, device=device, seed=1)
    ax = op(x)
    g = torch.Generator().manual_seed(2)
    y = torch.randn(ax.shape, dtype=torch.complex128, generator=g).to(device)  # DC/Nyquist complex
    lhs = op.inner(ax, y)
    rhs = (x * op.adjoint(y)).sum(-1)
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_and_batch_consistency(device):
    op = STFT(256, 128).to(device)
    x = _signal(4, 2000, dtype=torch.float32, device=device)
    spec = op(x)
    assert spec.dtype == torch.complex64
    for i in range(4):
        torch.testing.assert_close(op(x[i : i + 1]), spec[i : i + 1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(op.adjoint(spec, 2000), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_matches_torch_stft_and_istft(pad_mode):
    n_fft, hop, length = 512, 256, 256 * 20  # hop divides length: same frame count as torch.stft
    op = STFT(n_fft, hop, window="sine", pad_mode=pad_mode)
    x = _signal(2, length)
    ref = torch.stft(x, n_fft, hop, window=op.window, center=True, pad_mode=pad_mode,
                     normalized=True, return_complex=True)
    torch.testing.assert_close(op(x), ref)
    back = torch.istft(ref, n_fft, hop, window=op.window, center=True, normalized=True,
                       length=length)
    torch.testing.assert_close(op.inverse(ref, length), back)


def test_non_tight_inverse_and_nyquist():
    op = STFT(400, 160, window="sqrt-hann", drop_nyquist=True)
    x = _signal(1, 16000)
    spec = op(x)
    assert spec.shape[1] == 200
    full = STFT(400, 160, window="sqrt-hann")
    torch.testing.assert_close(full.inverse(full(x), 16000), x)


def test_windows():
    n = 1024
    sine = make_window("sine", n, torch.float64)
    sqrt_hann = make_window("sqrt-hann", n, torch.float64)
    torch.testing.assert_close(sqrt_hann, torch.hann_window(n, dtype=torch.float64).sqrt())
    shifted = torch.sin(torch.pi * torch.arange(n, dtype=torch.float64) / n)
    torch.testing.assert_close(sqrt_hann, shifted)
    # both square-sum to one at 50 % overlap (self-dual / tight)
    for w in (sine, sqrt_hann):
        ones = torch.ones(n // 2, dtype=torch.float64)
        torch.testing.assert_close(w[: n // 2] ** 2 + w[n // 2 :] ** 2, ones)
    assert STFT(n, n // 2).window.dtype == torch.float64
    torch.testing.assert_close(STFT(n, n // 2).window, sine)  # unscaled at 50 % overlap


def test_griffin_lim_loop_matches_torchaudio():
    n_fft, hop, length = 256, 128, 128 * 30
    x = _signal(2, length, dtype=torch.float32)
    op = STFT(n_fft, hop, window="sqrt-hann", pad_mode="reflect")
    target = magnitude(op(x))
    angles = torch.ones_like(target, dtype=torch.complex64)
    for _ in range(5):
        rebuilt = op(op.inverse(target * angles, length))
        angles = rebuilt / (rebuilt.abs() + 1e-16)
    ours = op.inverse(target * angles, length)
    gla = torchaudio.transforms.GriffinLim(
        n_fft=n_fft, hop_length=hop, window_fn=lambda n: torch.hann_window(n).sqrt(),
        power=1.0, n_iter=5, momentum=0.0, length=length, rand_init=False)
    theirs = gla(target * n_fft**0.5)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="window must be one of"):
        STFT(window="hamming")
    with pytest.raises(ValueError, match="hop must be"):
        STFT(64, 65)
    with pytest.raises(ValueError, match="n_fft must be"):
        STFT(63)
    with pytest.raises(ValueError, match="pad_mode"):
        STFT(pad_mode="edge")
    op = STFT(64, 32)
    with pytest.raises(ValueError, match="length unknown"):
        op.adjoint(op(torch.zeros(1, 100)))
    with pytest.raises(ValueError, match="shape"):
        op(torch.zeros(100))
    with pytest.raises(ValueError, match="spec must have shape"):
        op.adjoint(op(torch.zeros(1, 100)), 200)
    with pytest.raises(ValueError, match="power"):
        magnitude(op(torch.zeros(1, 100)), power=0)
