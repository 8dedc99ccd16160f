"""Deep NMF enhancement (K = 25, C = 0) against scikit-learn's KL multiplicative-update NMF.

The peer is ``sklearn.decomposition.NMF(solver="mu", beta_loss="kullback-leibler", tol=0,
max_iter=K).transform`` with ``components_`` set to our column-normalised bases W̄ᵀ ``(R, TF)``,
on the same stacked spectrogram X ``(TF, N)`` (transposed to scikit-learn's samples × features),
in float32: exactly K H-updates (``tol=0`` skips the convergence checks; the benchmark reads
scikit-learn's iteration count back), no sparsity, no Wiener filter, no STFT. Ours, timed
interleaved with it in the same run:

- ``model``: ``DeepNMF`` on the magnitudes M' ``(1, F, N)``: context stacking, K layers with
  μ = 5, the Wiener filter (eq. 34) — the work on the same spectrogram;
- ``enhance``: the whole ``unfold deep-nmf enhance`` path on the waveform (STFT, ``model``,
  inverse STFT); its real-time factor is audio seconds / compute seconds;
- ``layer_by_layer``: ``model`` with every layer as the unroller's ``step`` (``update_h``), the
  code path inference took before the in-place loop (``snmf.kl_h_updates``);
- ``loop_numpy``, ``loop_torch``: the K in-place layers alone with each backend
  (``deep_nmf/backend.py``; ``model`` uses numpy's on CPU).

Setting (the figures of issue #13): 10 s at 16 kHz, 25 ms / 10 ms frames → N = 1002 frames,
F = 200, T = 9 (TF = 1800), R = 200 random positive bases. Medians over ``--repeats`` of the
interleaved cases, at each thread count (torch and scikit-learn's BLAS both limited). JSON to
stdout and ``--out``.

    python -m benchmarks.deep_nmf_vs_sklearn [--seconds 10] [--repeats 5] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks.benchjson import emit, load_average, machine
from benchmarks.deep_nmf_throughput import noisy_recording
from unfold_plugins.deep_nmf.backend import NumpyBackend, TorchBackend
from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem
from unfold_plugins.deep_nmf.enhance import Enhancer
from unfold_plugins.deep_nmf.snmf import kl_h_updates
from unfold_plugins.deep_nmf.task import make_stft


def _peer(w_bar: torch.Tensor, layers: int):
    from sklearn.decomposition import NMF

    nmf = NMF(w_bar.shape[1], solver="mu", beta_loss="kullback-leibler", init="custom", tol=0,
              max_iter=layers)
    nmf.components_ = w_bar.T.contiguous().numpy()
    nmf.n_components_ = w_bar.shape[1]
    nmf.n_features_in_ = w_bar.shape[0]
    return nmf


def main() -> None:
    from threadpoolctl import threadpool_limits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--rank", type=int, default=100, help="bases per source (R = 2 × rank)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    sr, g = 16000, torch.Generator().manual_seed(0)
    wave = noisy_recording(a.seconds, sr, g)
    model = DeepNMF(a.layers, torch.rand(9 * 200, 2 * a.rank, generator=g) + 0.01, a.rank, 200,
                    mu=5.0, tying="tied").eval()
    enhancer = Enhancer(model, sr)
    m = make_stft(sr, 25.0, 10.0)(wave[None]).abs()
    p = NMFProblem.from_magnitudes(m, model.context)
    x_sk = np.ascontiguousarray(p.x[0].T.numpy())  # (N, TF) float32
    peer = _peer(model.w_bar, a.layers)

    # the peer does exactly K updates, and the same updates as ours (μ = 0, its start value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum number of iterations reached"
        w_sk, _, n_iter = peer._fit_transform(x_sk, H=peer.components_, update_H=False)
    start = torch.full((1, model.w_bar.shape[1], p.x.shape[-1]), float(w_sk.dtype.type(
        np.sqrt(x_sk.mean() / model.w_bar.shape[1]))))
    same = kl_h_updates(p.x, model.w_bar, a.layers, 0.0, start)[0].T.numpy()
    agreement = float(np.abs(same - w_sk).max() / np.abs(w_sk).max())

    def layer_by_layer() -> torch.Tensor:
        return model.readout(model.run(p, state=model.init(p)), p)

    cases = {
        "sklearn_transform": lambda: peer.transform(x_sk),
        "model": lambda: model(NMFProblem.from_magnitudes(m, model.context)),
        "enhance": lambda: enhancer(wave),
        "layer_by_layer": layer_by_layer,
        "loop_numpy": lambda: kl_h_updates(p.x, model.w_bar, a.layers, 5.0, backend=NumpyBackend()),
        "loop_torch": lambda: kl_h_updates(p.x, model.w_bar, a.layers, 5.0, backend=TorchBackend()),
    }
    rows = []
    for threads in [int(v) for v in a.threads.split(",")]:
        torch.set_num_threads(threads)
        load_before = load_average()
        times: dict[str, list[float]] = {k: [] for k in cases}
        with threadpool_limits(limits=threads), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn in cases.values():
                fn()  # warm-up
            for _ in range(a.repeats):
                for k, fn in cases.items():
                    t0 = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t0)
        med = {k: round(statistics.median(v), 4) for k, v in times.items()}
        peer_s = med["sklearn_transform"]
        rows.append({
            "threads": threads, "seconds_median": med,
            "seconds_all": {k: [round(s, 4) for s in v] for k, v in times.items()},
            "ratio_over_sklearn": {k: round(v / peer_s, 3) for k, v in med.items()},
            "x_realtime": {k: round(a.seconds / v, 2) for k, v in med.items()},
            "load_average_before": load_before, "load_average_after": load_average(),
        })
    out = {
        "benchmark": "deep_nmf_vs_sklearn",
        "setting": (f"{a.seconds} s at {sr} Hz, N = {p.x.shape[-1]} frames, TF = "
                    f"{p.x.shape[-2]}, R = {model.w_bar.shape[1]}, K = {a.layers}, C = 0, "
                    "float32"),
        "sklearn_iterations": int(n_iter),
        "relative_difference_to_sklearn_same_updates": agreement,
        "repeats": a.repeats, "rows": rows, "machine": machine(torch.device("cpu")),
    }
    emit(out, a.out)


if __name__ == "__main__":
    main()
