"""cp-dequant: speech dequantization by unrolled Chambolle–Pock with a learned analysis operator.

Brauer & Lorenz, "Asymptotic analysis and truncated backpropagation for the unrolled primal-dual
algorithm": min ‖Ky‖₁ s.t. ‖y − x‖∞ ≤ η/2 on frames of quantised speech, K learned, full vs
truncated backprop. See docs/plugins/cp-dequant.md.
"""

from unfold.plugin import Plugin
from unfold_plugins.cp_dequant.commands import COMMANDS
from unfold_plugins.cp_dequant.recipes import RECIPES
from unfold_plugins.cp_dequant.unroller import ChambollePock

plugin = Plugin(
    name="cp-dequant",
    version="0.1.0",
    description="speech dequantization by unrolled Chambolle–Pock with a learned K (full vs "
    "truncated backprop)",
    recipes=RECIPES,
    unrollers={"ChambollePock": ChambollePock},
    commands=COMMANDS,
    compare="cp-dequant",
)
