"""Table 2 by hand: SNMF and deep NMF for several K and C, trained by Adam and/or MBP.

``python -m unfold_plugins.deep_nmf.experiment --out DIR [--set key=value ...] [--ks 25,4]
[--cs 1,2,3,4] [--updates adam,mbp]`` uses the ``deep-nmf-paper`` config. Unlike ``unfold run``,
it computes the frozen SNMF prefix (the first K − max C layers) once per batch and shares it
between all models and both update rules, so one run covers every row of Table 2 at the cost
of a few SNMF passes. Writes results.json, per_item.json, table2-<update>.md,
sdr_vs_c-<update>.png and one checkpoint per trained model (usable by ``unfold deep-nmf
enhance --model``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from unfold import checkpoint
from unfold.recipe import to_dict
from unfold_plugins.deep_nmf.fit import fit, with_prefix
from unfold_plugins.deep_nmf.recipes import deep_nmf_paper
from unfold_plugins.deep_nmf.report import per_snr_rows, sdr_vs_c_figure, table2
from unfold_plugins.deep_nmf.task import DeepNMFTask, make_stft


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--ks", default="25")
    ap.add_argument("--cs", default="1,2,3,4")
    ap.add_argument("--updates", default="adam,mbp")
    ap.add_argument("--mbp-eta", type=float, default=1.0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = deep_nmf_paper.resolve(overrides=args.overrides)
    cs, updates = _ints(args.cs), [u for u in args.updates.split(",") if u]
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)

    task = DeepNMFTask()
    data = task.datasets(cfg)
    task.bases(cfg)
    log("data and SNMF bases ready")
    dev = torch.device("cpu")

    def batches(split: str) -> list:
        loader = DataLoader(data[split], batch_size=cfg.train.batch_size, collate_fn=task.collate)
        return [task.problem(b, cfg, dev) for b in loader]

    train, valid, test = batches("train"), batches("valid"), batches("test")
    rows, per_item = [], {}
    for k in _ints(args.ks):
        cfg.model.layers = k
        n_freq = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms).n_fft // 2
        snmf = task.snmf(cfg, "tied", n_freq)
        d0 = k - min(max(cs, default=0), k)
        pre = {name: with_prefix(snmf, [(p, t.s) for p, t in b], d0)
               for name, b in (("train", train), ("valid", valid))}
        pre_test = with_prefix(snmf, [(p, t.s) for p, t in test], d0)
        log(f"K={k}: SNMF prefix of {d0} layers cached")
        models = [("SNMF", "tied", snmf, "-")]
        for c in (c for c in cs if 1 <= c <= k):
            for update in updates:
                model = task.snmf(cfg, f"partial:{c}", n_freq)
                lr = cfg.train.lr if update == "adam" else args.mbp_eta
                hist = fit(model, pre["train"], pre["valid"], cfg.train.epochs, update, lr)
                log(f"K={k} C={c} {update}: valid loss {hist['valid'][0]:.4f} -> "
                    f"{min(hist['valid']):.4f}")
                models.append((f"deep NMF ({update})", f"partial:{c}", model, update))
                checkpoint.save_atomic(checkpoint.build(
                    model, plugin="deep-nmf", recipe="deep-nmf-paper", tying=f"partial:{c}",
                    config=to_dict(cfg), update=update, history=hist),
                    out / f"K{k}-C{c}-{update}.pt")
        for name, tying, model, update in models:
            values: dict[str, list[float]] = {}
            with torch.no_grad():
                for (state, p, _), (_, target) in zip(with_prefix(model, pre_test), test):
                    est = model.forward_from(state, p, model.n_shared)
                    for key, v in task.metrics(est, target, p, cfg).items():
                        values.setdefault(key, []).extend(v)
            row = {"name": name, "iterations": k, "tying": tying, "update": update}
            rows.append(row)
            per_item[f"{name} {tying}-{k}"] = values
            log(f"K={k} {name} {tying}: SDR {sum(values['sdr']) / len(values['sdr']):.2f} dB")
    results = {"config": to_dict(cfg), "methods": rows}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "per_item.json").write_text(json.dumps(per_item))
    n_freq = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms).n_fft // 2
    for update in updates:
        sub = {"methods": [r for r in rows if r["update"] in ("-", update)]}
        table = per_snr_rows(sub["methods"], per_item, n_freq, 2 * cfg.model.rank, cfg.model.context)
        (out / f"table2-{update}.md").write_text(table2(table))
        sdr_vs_c_figure(out / f"sdr_vs_c-{update}.png", table)
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
