"""Table 2 of the paper (SDR per input SNR, average, P_D, P) and the SDR-vs-C figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unfold.results import MethodResult, method_label


def untied_layers(tying: str | None, k: int) -> int:
    """C of a tying label: tied/None -> 0, untied -> K, partial:C -> min(C, K)."""
    if not tying or tying == "tied":
        return 0
    if tying == "untied":
        return k
    return min(int(tying.partition(":")[2]), k)


def per_snr_rows(methods: Sequence[MethodResult | Mapping[str, Any]],
                 per_item: Mapping[str, Mapping[str, Sequence[float]]],
                 n_freq: int, n_bases: int, context: int) -> list[dict[str, Any]]:
    """One row per method (a run's results, or rows with "name", "iterations", "tying"): K, C,
    mean SDR per input SNR and overall, P_D = C F R and P = (T + C) F R (Table 2; R = n_bases,
    speech and noise together)."""
    rows = []
    for r in methods:
        values = per_item.get(method_label(r))
        if not values or "sdr" not in values:
            continue
        sdr, snr = np.asarray(values["sdr"]), np.asarray(values["input_snr"])
        if isinstance(r, MethodResult):
            name, k, tying = r.name, r.iterations, r.tying
        else:
            name, k, tying = r["name"], r["iterations"], r["tying"]
        c = untied_layers(tying, k)
        rows.append({
            "name": name, "K": k, "C": c, "P_D": c * n_freq * n_bases,
            "P": (context + c) * n_freq * n_bases,
            "per_snr": {float(s): float(sdr[snr == s].mean()) for s in np.unique(snr)},
            "avg": float(sdr.mean()),
            "si_sdr": float(np.mean(values["si_sdr"])), "stoi": float(np.mean(values["stoi"])),
        })
    return sorted(rows, key=lambda x: (x["K"], x["C"]))


def _k(n: int) -> str:
    return "-" if not n else (f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} K")


def table2(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown in the layout of the paper's Table 2."""
    snrs = sorted({s for r in rows for s in r["per_snr"]})
    head = ["SDR [dB]", *[f"{s:g}" for s in snrs], "Avg.", "SI-SDR", "STOI", "P_D", "P"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"K = {r['K']}, C = {r['C']}" + (" (SNMF)" if r["C"] == 0 else "")]
        cells += [f"{r['per_snr'].get(s, float('nan')):.2f}" for s in snrs]
        cells += [f"{r['avg']:.2f}", f"{r['si_sdr']:.2f}", f"{r['stoi']:.3f}", _k(r["P_D"]),
                  _k(r["P"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sdr_vs_c_figure(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Mean SDR against C, one line per input SNR (and the average), per K."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted({r["K"] for r in rows})
    fig, axes = plt.subplots(1, len(ks), figsize=(5 * len(ks), 4), squeeze=False)
    for ax, k in zip(axes[0], ks):
        sub = sorted((r for r in rows if r["K"] == k), key=lambda r: r["C"])
        cs = [r["C"] for r in sub]
        for s in sorted({s for r in sub for s in r["per_snr"]}):
            ax.plot(cs, [r["per_snr"].get(s, np.nan) for r in sub], "o-", label=f"{s:g} dB")
        ax.plot(cs, [r["avg"] for r in sub], "k^--", label="average")
        ax.set_xlabel("C (untied, discriminatively trained layers)")
        ax.set_ylabel("SDR [dB]")
        ax.set_title(f"deep NMF, K = {k}")
        ax.set_xticks(cs)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(title="input SNR", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_table2(run_dir: Path, methods: Sequence[MethodResult],
                 per_item: Mapping[str, Mapping[str, Sequence[float]]], n_freq: int, n_bases: int,
                 context: int) -> list[Path]:
    """table2.md + sdr_vs_c.png from a run's methods and their per-item values."""
    rows = per_snr_rows(methods, per_item, n_freq, n_bases, context)
    if not rows:
        return []
    (run_dir / "table2.md").write_text(table2(rows))
    return [sdr_vs_c_figure(run_dir / "sdr_vs_c.png", rows)]


def dnn_table(methods: Sequence[MethodResult],
              per_item: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
    """The DNN baseline against SNMF (and any other method of the run): SDR per input SNR,
    average, SI-SDR, STOI, trainable parameters, and the paired SDR difference to SNMF with its
    95 % paired t interval over the same mixtures."""
    from unfold.stats import paired_t

    base = next((m for m in methods if m.name.startswith("SNMF")), None)
    snrs: list[float] = []
    rows = []
    for m in methods:
        values = per_item.get(m.label)
        if not values or "sdr" not in values:
            continue
        sdr, snr = np.asarray(values["sdr"]), np.asarray(values["input_snr"])
        snrs = sorted(set(snrs) | {float(s) for s in np.unique(snr)})
        diff = "-"
        if base is not None and m is not base and base.label in per_item:
            d = paired_t(values["sdr"], per_item[base.label]["sdr"])
            lo, hi = d.ci95 if d.ci95 else (float("nan"), float("nan"))
            diff = f"{d.mean_diff:+.2f} [{lo:+.2f}, {hi:+.2f}], {d.better}/{d.n}"
        rows.append((m, sdr, snr, diff))
    head = ["SDR [dB]", *[f"{s:g}" for s in snrs], "Avg.", "SI-SDR", "STOI", "P",
            "− SNMF (95 % CI), better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, sdr, snr, diff in rows:
        values = per_item[m.label]
        cells = [m.label] + [f"{sdr[snr == s].mean():.2f}" for s in snrs]
        cells += [f"{sdr.mean():.2f}", f"{np.mean(values['si_sdr']):.2f}",
                  f"{np.mean(values['stoi']):.3f}", _k(m.params), diff]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
