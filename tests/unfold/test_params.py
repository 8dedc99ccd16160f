import pytest
import torch

from unfold.params import Interval, LogPositive, Negative, Param, Positive, as_constraint


@pytest.mark.parametrize("c, values", [
    (Positive(), [1e-4, 0.5, 3.0, 80.0]),
    (Negative(), [-1e-3, -2.0, -50.0]),
    (Interval(-1.0, 2.0), [-0.9, 0.0, 1.99]),
    (LogPositive(), [1e-3, 1.0, 100.0]),
])
def test_constraint_round_trip(c, values):
    v = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(c.forward(c.inverse(v)), v, rtol=1e-9, atol=1e-12)


def test_constraint_holds_for_any_raw_value():
    raw = torch.linspace(-50, 50, 101, dtype=torch.float64)
    assert (Positive().forward(raw) >= 0).all()
    assert (Negative().forward(raw) <= 0).all()
    out = Interval(0.5, 0.7).forward(raw)
    assert ((out >= 0.5) & (out <= 0.7)).all()


def test_bad_constraints_and_inits():
    with pytest.raises(ValueError, match="known"):
        as_constraint("postive")
    with pytest.raises(ValueError, match="> 0"):
        Param(-1.0, "positive").initial_raw()
    with pytest.raises(ValueError, match="lo < hi"):
        Interval(1.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        Param(torch.zeros(3), shape=(2,)).initial_value()
    with pytest.raises(ValueError, match="finite"):
        Param(float("nan")).initial_value()


def test_param_init_forms():
    assert Param(2.0, shape=(2, 3)).initial_value().shape == (2, 3)
    assert Param(lambda s: torch.ones(s), shape=(4,)).initial_value().sum() == 4
    torch.testing.assert_close(Param(torch.eye(2), shape=(2, 2)).initial_value(), torch.eye(2))
