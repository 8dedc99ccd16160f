"""GLA/FGLA against torchaudio, ADMM fixed point and descent, UADMM initialisation and gradients."""

import numpy as np
import pytest
import torch
import torchaudio
from scipy.optimize import minimize_scalar

from unfold.signal.stft import STFT
from unfold.unroller import Theta
from unfold_plugins.admm_pr import ADMM, FGLA, GLA, UADMM
from unfold_plugins.admm_pr.divergence import learned_divergence
from unfold_plugins.admm_pr.learned_prox import apl_tolerance, learned_prox, r_term
from unfold_plugins.admm_pr.problem import PRProblem, make_problem, random_phase
from unfold_plugins.admm_pr.prox import prox_quadratic

N_FFT, HOP, LEN = 256, 128, 3000


def _signals(batch=2, n=LEN, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 8000
    f0 = 150 + 500 * torch.rand(batch, 1, generator=g)
    s = 0.5 * torch.sin(2 * torch.pi * f0 * t * (1 + t))
    return s + 0.05 * torch.randn(batch, n, generator=g)


def _torchaudio_gla(S, momentum, n_iter, rand_init):
    ta = torchaudio.transforms.GriffinLim(
        n_fft=N_FFT, hop_length=HOP, power=1, n_iter=n_iter, momentum=momentum,
        rand_init=rand_init, length=LEN,
        window_fn=lambda n, **k: torch.hann_window(n, dtype=torch.float64).sqrt())
    # torchaudio's stft is not normalised: our A = stft / sqrt(N)
    return ta.double()(S * N_FFT**0.5)


@pytest.mark.parametrize("momentum", [0.0, 0.99])
@pytest.mark.parametrize("rand_init", [False, True])
def test_gla_and_fgla_match_torchaudio(momentum, rand_init):
    op = STFT(N_FFT, HOP, "sqrt-hann", pad_mode="reflect")
    S = op(_signals().double()).abs()
    torch.manual_seed(7)
    angles = (torch.rand(S.shape, dtype=torch.complex128) if rand_init
              else torch.ones(S.shape, dtype=torch.complex128))
    torch.manual_seed(7)  # torchaudio draws the same angles with rand_init=True
    ref = _torchaudio_gla(S, momentum, 12, rand_init)
    problem = PRProblem(S, S * angles, op, LEN)
    model = GLA(12) if momentum == 0 else FGLA(12, momentum=momentum)
    out = model.double()(problem)
    # FGLA: the momentum parameter is stored in float32 (0.99 + 1e-8), amplified over 12 steps
    tol = 1e-10 if momentum == 0 else 1e-6
    assert float((out - ref).abs().max()) < tol * float(ref.abs().max())


def _tight_problem(batch=2, seed=0, dtype=torch.float32):
    return make_problem(_signals(batch, seed=seed).to(dtype), STFT(N_FFT, HOP, "sine"), seed=3)


def _spectral_error(x, problem):
    return float((problem.analysis(x).abs() - problem.r).norm() / problem.r.norm())


@pytest.mark.parametrize("loss", ["quadratic", "kl", "is"])
@pytest.mark.parametrize("d", [1, 2])
def test_admm_keeps_the_true_signal(loss, d):
    s = _signals().double()
    op = STFT(N_FFT, HOP, "sine")
    spec = op(s)
    problem = PRProblem(spec.abs(), spec, op, LEN)  # the true phase
    out = ADMM(5, loss=loss, d=d, rho=0.1)(problem)
    torch.testing.assert_close(out, s, rtol=1e-6, atol=1e-8)


def test_admm_and_gla_reduce_the_spectral_error():
    problem = _tight_problem(batch=1)
    e0 = _spectral_error(problem.synthesis(problem.init_spec), problem)
    models = [ADMM(20, loss=loss) for loss in ("quadratic", "kl", "is")] + [GLA(20), FGLA(20)]
    for model in models:
        assert _spectral_error(model(problem), problem) < 0.6 * e0, model


def test_admm_batch_consistency_and_random_phase_is_per_item():
    p2 = _tight_problem(batch=2)
    p1 = make_problem(_signals(2)[1:], STFT(N_FFT, HOP, "sine"), indices=[1], seed=3)
    torch.testing.assert_close(p1.init_spec, p2.init_spec[1:])
    out2, out1 = ADMM(10)(p2), ADMM(10)(p1)
    torch.testing.assert_close(out1, out2[1:], rtol=1e-4, atol=1e-5)
    a, b = random_phase((5, 4), 0, 1), random_phase((5, 4), 0, 2)
    assert not torch.equal(a, b) and torch.equal(a, random_phase((5, 4), 0, 1))
    assert float(a.min()) >= -np.pi and float(a.max()) < np.pi


def test_admm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="d must be 1"):
        ADMM(3, d=3)
    with pytest.raises(ValueError, match="rho must be > 0"):
        ADMM(3, rho=0.0)


def test_r_term_is_the_papers_and_finite_at_beta_one():
    d = torch.float64
    r = torch.tensor([0.0, 1e-3, 0.2, 1.0, 7.0], dtype=d)
    for beta in (1.5, 2.0, 2.5, 0.9):
        g2 = 0.7 * (beta - 1)  # the paper's γ²
        theta = Theta(gamma2=torch.tensor(0.7, dtype=d), beta=torch.tensor(beta, dtype=d))
        ref = g2 * r[1:] ** (beta - 1) / (beta - 1)
        torch.testing.assert_close(r_term(r, theta)[1:], ref)
    theta = Theta(gamma2=torch.tensor(0.7, dtype=d), beta=torch.tensor(1.0, dtype=d,
                                                                       requires_grad=True))
    v = r_term(r, theta)
    v.sum().backward()
    torch.testing.assert_close(v, torch.full_like(r, 0.7))
    assert torch.isfinite(theta.beta.grad)


def _data_range_inputs():
    """|h| and r over the range of the data: magnitudes of a tight-frame STFT of speech-like
    signals (peak ~0.5), from 0 up to 2x their maximum."""
    problem = _tight_problem(batch=3)
    r = problem.r.double().flatten()
    y = torch.rand(r.shape, dtype=torch.float64) * 2 * float(r.max())
    return y, r


def test_uadmm_initialisation_is_close_to_the_quadratic_prox():
    rho = 1e-3
    model = UADMM(15, "untied", rho=rho).double()
    y, r = _data_range_inputs()
    for t in (0, 7, 14):
        theta = model.theta(t)
        tol = apl_tolerance(theta.w, theta.b)
        assert 5e-6 < tol < 1.1e-5  # the stated tolerance of the docstring
        with torch.no_grad():
            diff = learned_prox(y, r, theta) - prox_quadratic(y, r, rho)
        # 1e-6: the parameters are stored in float32 (γ¹ = ρ/(1 + ρ) to ~1e-8 relative)
        assert float(diff.max()) <= 1e-6 and float(diff.min()) >= -tol - 1e-6
        # the ψ' floor changes nothing measurable at β = 2
        assert float(diff.abs().max()) > 0  # not exactly quadratic: slopes are live


def test_uadmm_at_init_tracks_admm():
    problem = _tight_problem()
    a = ADMM(15, rho=1e-3)(problem)
    u = UADMM(15, rho=1e-3)(problem)
    assert float((a - u).norm() / a.norm()) < 2e-2


@pytest.mark.parametrize("tying", ["tied", "untied"])
def test_every_uadmm_parameter_gets_a_gradient(tying):
    problem = _tight_problem()
    model = UADMM(4, tying)
    out = model(problem)
    target = _signals()
    ((out - target) ** 2).mean().backward()
    for name, p in model.raw.items():
        if name == "rho":
            assert not p.requires_grad
            continue
        assert p.grad is not None and bool((p.grad != 0).all()), name
        assert bool(torch.isfinite(p.grad).all()), name


def test_uadmm_iterates_beyond_its_depth_and_repeats_untied_stack():
    problem = _tight_problem()
    model = UADMM(3, "untied")
    with torch.no_grad():
        model.raw["b"].add_(torch.randn_like(model.raw["b"]) * 0.01)
        out = model(problem, n_iter=7)
    assert out.shape == (2, LEN) and torch.isfinite(out).all()
    assert model.tying.group(5, 3) == 2  # layer 6 uses layer 3's parameters


def test_uadmm_rejects_frozen_slopes():
    with pytest.raises(ValueError, match="never move"):
        UADMM(3, slope_init=0.0)


def test_learned_divergence_has_the_learned_sublayer_as_prox():
    """u = F(v, r) minimises f_r(u) + ½(u − v)² (supplementary eq. 31), for a non-trivial layer."""
    d = torch.float64
    theta = Theta(gamma1=torch.tensor(0.3, dtype=d), gamma2=torch.tensor(0.8, dtype=d),
                  beta=torch.tensor(1.6, dtype=d),
                  w=torch.tensor([-0.5, -0.2, -0.05], dtype=d),
                  b=torch.tensor([0.1, 0.6, 1.5], dtype=d))
    r = torch.tensor(1.3, dtype=d)
    for v in (-0.5, 0.2, 0.9, 2.5):
        u = float(learned_prox(torch.tensor(v, dtype=d), r, theta))

        def obj(x, v=v):
            f = float(learned_divergence(torch.tensor(x, dtype=d), r, theta))
            return f + 0.5 * (x - v) ** 2

        res = minimize_scalar(obj, bounds=(u - 3, u + 3), method="bounded",
                              options={"xatol": 1e-10})
        assert u == pytest.approx(res.x, abs=1e-6), v


def test_learned_divergence_at_init_is_the_quadratic_loss():
    rho = 1e-3
    theta = UADMM(1, rho=rho).double().theta(0)
    y = torch.linspace(0.05, 3, 50, dtype=torch.float64)
    f = rho * learned_divergence(y, torch.tensor(1.0, dtype=torch.float64), theta)
    q = 0.5 * (y - 1) ** 2
    # equal up to a constant and the O(|w| b / ρ·ρ) APL deviation
    assert float(((f - f[20]) - (q - q[20])).abs().max()) < 5e-3


def _grads(model, problem):
    model.zero_grad()
    model(problem).pow(2).sum().backward()
    return torch.cat([r.grad.reshape(-1) for r in model.raw.values() if r.grad is not None])


def test_implicit_backprop_on_tied_uadmm():
    """implicit:0 is one differentiated step from the detached last state (= Truncated(1) one
    layer deeper) on the multi-field ADMM state; b > 0 adds Neumann terms; untied refused."""
    from unfold.backprop import Truncated
    from unfold.implicit import Implicit

    _, p = UADMM.example()
    jfb = _grads(UADMM(6, backprop=Implicit(0)), p)
    one = _grads(UADMM(7, backprop=Truncated(1)), p)
    torch.testing.assert_close(jfb, one, rtol=1e-5, atol=0)  # float32 summation order
    more = _grads(UADMM(6, backprop=Implicit(5)), p)
    assert torch.isfinite(more).all() and not torch.equal(more, jfb)
    with pytest.raises(ValueError, match="needs tying 'tied'"):
        UADMM(6, "untied", backprop="implicit:5")
