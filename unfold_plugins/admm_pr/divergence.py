"""The function f_r whose prox is the learned sublayer F (supplementary eqs. 25–31).

With z = APL^{-1}(y) (eq. 26), the antiderivative APL-bar (eq. 24) and s(r) = γ̃² r^{β−1} the
r-term of F (eq. 19; the paper's γ² r^{β−1}/(β−1)):

.. math::

    f_r(y) = \\frac{1}{γ^{(1)}}\\big(z - s(r)\\big)\\,y - \\frac{y^2}{2}
             - \\frac{1}{γ^{(1)}}\\,\\overline{\\mathrm{APL}}(z)                     \\quad (31)

so that F(·, r) = prox_{f_r} (f_r' (y) = (z − s)/γ¹ − y, hence u = F(v, r) solves
f_r'(u) + u − v = 0; tested by brute-force minimisation). At the quadratic initialisation
ρ f_r(y) = ½(y − r)² + const, so we plot ρ·(f_r − min f_r) against ½(y − r)² and KL(y | r)
(Fig. 5).
"""

from __future__ import annotations

import torch

from unfold.nn.apl import apl_bar, apl_inverse
from unfold.unroller import Theta
from unfold_plugins.admm_pr.learned_prox import r_term

Tensor = torch.Tensor


def learned_divergence(y: Tensor, r: Tensor, theta: Theta) -> Tensor:
    """f_r(y) of eq. (31) elementwise; y, r broadcastable, θ the parameters of one layer."""
    w, b, g1 = theta.w, theta.b, theta.gamma1
    s = r_term(r, theta)
    z = apl_inverse(y, w, b)
    return (z - s) * y / g1 - y * y / 2 - apl_bar(z, w, b) / g1


def kl(y: Tensor, r: Tensor) -> Tensor:
    """D_KL(y | r) = y log(y/r) − y + r."""
    return torch.xlogy(y, y / r) - y + r
