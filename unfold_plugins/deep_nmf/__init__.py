"""deep-nmf: speech enhancement by unfolded sparse NMF with untied layers (Hershey, Le Roux &
Weninger 2014, "Deep unfolding", sections 4–5)."""

from __future__ import annotations

from unfold.plugin import Plugin
from unfold_plugins.deep_nmf.command import enhance_command
from unfold_plugins.deep_nmf.deep_nmf import DeepNMF
from unfold_plugins.deep_nmf.dnn import MaskDNN
from unfold_plugins.deep_nmf.recipes import deep_nmf, deep_nmf_dnn, deep_nmf_paper

plugin = Plugin(
    name="deep-nmf",
    version="0.1.0",
    description="Speech enhancement by unfolded sparse NMF; the last C layers untied (deep NMF)",
    recipes=[deep_nmf, deep_nmf_paper, deep_nmf_dnn],
    unrollers={"DeepNMF": DeepNMF, "MaskDNN": MaskDNN},
    commands=[enhance_command],
    compare="deep-nmf",
)
