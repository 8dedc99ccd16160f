"""Gradients: the paper's Algorithm 2 written out in numpy is the reference.

Algorithm 2 is used with (6) read as CP's extrapolation δ̄_D^l = δ_D^l + θ(δ_D^l − δ_D^{l+1}); the
printed δ̄_D^{l+1} on the right-hand side does not give the gradient of Algorithm 1 (the first
test checks our reading against autograd of the whole loop).
"""

import numpy as np
import pytest
import torch

from unfold.backprop import Truncated
from unfold_plugins.cp_dequant.cp import primal_dual_gap
from unfold_plugins.cp_dequant.frozen import FrozenJacobian, parse_cp_backprop
from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

from .test_cpd_math import speechlike

N, KR = 10, 12


def setup(L: int, backprop, seed: int = 0):
    y_true, x, h = speechlike(3, N, bits=3, seed=seed)
    g = torch.Generator().manual_seed(seed)
    K = torch.randn(KR, N, generator=g, dtype=torch.float64) / np.sqrt(N)
    model = ChambollePock(L, n=N, k=KR, K_init=K, backprop=backprop).double()
    with torch.no_grad():
        model.raw["K"].copy_(K)
    return model, CPProblem(x, torch.full((3, 1), h, dtype=torch.float64)), y_true, K.numpy(), h


def autograd_grad(model, prob, y_true):
    out = model(prob)
    (0.5 * ((out - y_true) ** 2).sum()).backward()
    return model.raw["K"].grad[0].numpy(), out.detach().numpy()


def algorithm2(model, x, y_true, K, h, b=None, frozen=False, alpha_one=False):
    """Forward Algorithm 1 storing every z, then backward (4)–(6) and (9)/(12), per item."""
    th = model.theta(0)
    sigma, tau = float(th.sigma), float(th.tau)
    L, grad = model.n_layers, np.zeros_like(K)
    for xi, ti in zip(x, y_true, strict=True):
        y, yb, psi = xi.copy(), xi.copy(), np.zeros(KR)
        zp, zd, ybs, psis = [None], [None], [None], [None]
        for _ in range(L):
            ybs.append(yb)
            zd.append(psi + sigma * K @ yb)
            psi = np.clip(zd[-1], -1, 1)
            zp.append(y - tau * K.T @ psi)
            ynew = np.clip(zp[-1] - xi, -h, h) + xi
            yb, y = 2 * ynew - y, ynew
            psis.append(psi)
        steps = range(L, 0, -1) if not frozen else [L] * b
        dp_next, dd_next, dd_next2 = y - ti, np.zeros(KR), np.zeros(KR)
        for l in steps:
            ap = 1.0 if alpha_one else h
            jp = (np.abs(zp[l] - xi) < ap).astype(float)
            jd = (np.abs(zd[l]) < 1).astype(float)
            dbar = 2 * dd_next - dd_next2  # δ̄_D^{l+1}
            dp = jp * (dp_next + sigma * K.T @ dbar)
            dd = jd * (dd_next - tau * K @ dp)
            ybar_prev, psi_l = (y, psi) if frozen else (ybs[l], psis[l])
            grad += sigma * np.outer(dd, ybar_prev) - tau * np.outer(psi_l, dp)
            dp_next, dd_next2, dd_next = dp, dd_next, dd
    return grad


def test_reference_algorithm2_equals_autograd_full():
    model, prob, y_true, K, h = setup(15, "full")
    ours, _ = autograd_grad(model, prob, y_true)
    ref = algorithm2(model, prob.x.numpy(), y_true.numpy(), K, h)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize("alpha_one", [False, True])
def test_frozen_jacobian_equals_algorithm2_with_frozen_jacobians(alpha_one):
    model, prob, y_true, K, h = setup(25, FrozenJacobian(7, alpha_one=alpha_one))
    ours, out = autograd_grad(model, prob, y_true)
    ref = algorithm2(model, prob.x.numpy(), y_true.numpy(), K, h, b=7, frozen=True,
                     alpha_one=alpha_one)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    with torch.no_grad():  # the forward value is the plain L-iteration output
        np.testing.assert_allclose(out, model(prob).numpy(), atol=0)


def test_frozen_equals_core_truncated_at_convergence_but_not_before():
    grads = {}
    for L in (12, 3000):
        for name, bp in (("frozen", FrozenJacobian(10, alpha_one=False)), ("core", Truncated(10))):
            model, prob, y_true, _, _ = setup(L, bp, seed=5)
            grads[name, L] = autograd_grad(model, prob, y_true)[0]
    close = np.abs(grads["frozen", 3000] - grads["core", 3000]).max()
    far = np.abs(grads["frozen", 12] - grads["core", 12]).max()
    assert close < 1e-6 * np.abs(grads["core", 3000]).max()
    assert far > 1e-3 * np.abs(grads["core", 12]).max()


def test_backprop_specs_and_errors():
    assert parse_cp_backprop("frozen").describe() == "frozen(30)"
    assert parse_cp_backprop("frozen-exact:5").describe() == "frozen-exact(5)"
    assert parse_cp_backprop("truncated:4").describe() == "truncated(4)"
    with pytest.raises(ValueError, match="allowed: full"):
        parse_cp_backprop("paper")
    with pytest.raises(ValueError, match="b must be"):
        parse_cp_backprop("frozen:x")
    with pytest.raises(ValueError, match="needs tying 'tied'"):
        ChambollePock(4, n=8, tying="untied", backprop="frozen")


def test_implicit_and_frozen_exact_agree_at_a_converged_state():
    """Same Neumann series, Jacobian at s^L (implicit) or s^{L−1} (frozen-exact): at a converged
    state (primal–dual gap ≤ 1e-12) the two gradients agree to 1e-8 (b = 1000 terms), and both
    equal the full gradient through the 3000 layers."""
    grads = {}
    for bp in ("implicit:1000", "frozen-exact:1000", "full"):
        model, prob, y_true, _, _ = setup(3000, bp, seed=5)
        grads[bp] = autograd_grad(model, prob, y_true)[0]
    with torch.no_grad():
        s, th = model.run(prob), model.theta(0)
        assert float(primal_dual_gap(s.y, s.psi, prob.x, th.K, prob.h).max()) <= 1e-12
    scale = np.abs(grads["full"]).max()
    assert np.abs(grads["implicit:1000"] - grads["frozen-exact:1000"]).max() <= 1e-8 * scale
    assert np.abs(grads["implicit:1000"] - grads["full"]).max() <= 1e-8 * scale


def test_implicit_on_chambolle_pock_is_the_core_mechanism():
    """implicit:0 = Truncated(1) one layer deeper, on the three-field CP state; untied refused."""
    jfb, _ = autograd_grad(*setup(20, "implicit:0")[:2], setup(20, "full")[2])
    one, _ = autograd_grad(*setup(21, Truncated(1))[:2], setup(21, "full")[2])
    np.testing.assert_array_equal(jfb, one)
    with pytest.raises(ValueError, match="implicit\\(4\\) backprop needs tying 'tied'"):
        ChambollePock(4, n=8, tying="partial:2", backprop="implicit:4")
