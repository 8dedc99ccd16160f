"""unfold.runtime: the allocator settings applied before training."""

from __future__ import annotations

import ctypes

import pytest

from unfold import runtime
from unfold.runtime import AllocatorSettings, tune_allocator

glibc = pytest.mark.skipif(runtime._glibc() is None, reason="needs glibc's mallopt")


@glibc
def test_tune_allocator_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNFOLD_ALLOCATOR", raising=False)
    calls: list[tuple[int, int]] = []
    libc = runtime._glibc()
    assert libc is not None
    real = libc.mallopt

    class Spy:
        def mallopt(self, param: ctypes.c_int, value: ctypes.c_int) -> int:
            calls.append((param.value, value.value))
            return real(param, value)

    monkeypatch.setattr(runtime, "_glibc", lambda: Spy())
    assert tune_allocator(AllocatorSettings(32 << 20, 64 << 20, 1 << 20))
    assert sorted(calls) == sorted([(-3, 32 << 20), (-1, 64 << 20), (-2, 1 << 20)])


def test_opt_out_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNFOLD_ALLOCATOR", "default")
    monkeypatch.setattr(runtime, "_glibc", lambda: pytest.fail("must not touch the allocator"))
    assert tune_allocator() is False


def test_other_c_library_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNFOLD_ALLOCATOR", raising=False)
    monkeypatch.setattr(runtime, "_glibc", lambda: None)
    assert tune_allocator() is False


def test_refused_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNFOLD_ALLOCATOR", raising=False)

    class Refusing:
        def mallopt(self, param: ctypes.c_int, value: ctypes.c_int) -> int:
            return 0 if param.value == -3 else 1

    monkeypatch.setattr(runtime, "_glibc", lambda: Refusing())
    assert tune_allocator() is False
