import sys
import types

import pytest
from importlib_metadata import EntryPoint

from unfold.plugin import Plugin, PluginError, Registry


class FakeDist:
    def __init__(self, name, version="1.0"):
        self.name, self.version = name, version


def ep(name, value, dist="pkg"):
    e = EntryPoint(name=name, value=value, group="unfold.plugins")
    return e._for(FakeDist(dist)) if hasattr(e, "_for") else e


@pytest.fixture
def fake_modules(monkeypatch, tutorial):
    good = types.ModuleType("fake_good")
    good.plugin = Plugin("good", "1.2", "works", recipes=[tutorial.lista],
                         unrollers={"LISTA": tutorial.LISTA}, compare="lista")
    bad_obj = types.ModuleType("fake_wrong")
    bad_obj.plugin = object()
    named = types.ModuleType("fake_named")
    named.plugin = Plugin("other-name", "1", "x")
    for m in (good, bad_obj, named):
        monkeypatch.setitem(sys.modules, m.__name__, m)


def test_discovery_does_not_import(monkeypatch):
    monkeypatch.delitem(sys.modules, "never_imported_pkg", raising=False)
    reg = Registry([ep("lazy", "never_imported_pkg:plugin")])
    assert reg.names() == ["lazy"]
    assert "never_imported_pkg" not in sys.modules


def test_broken_plugin_is_listed_and_others_work(fake_modules):
    reg = Registry([ep("good", "fake_good:plugin"), ep("broken", "missing_module_xyz:plugin")])
    status = {s.name: s for s in reg.status()}
    assert status["good"].ok
    assert not status["broken"].ok and "ModuleNotFoundError" in status["broken"].error
    assert [p.name for p in reg.plugins()] == ["good"]
    assert reg.recipe("lista")[0].name == "good"


def test_duplicate_names_mark_both_entries_and_lock_out_only_that_name(fake_modules):
    reg = Registry([ep("dup", "a:plugin", "dist-a"), ep("dup", "b:plugin", "dist-b"),
                    ep("good", "fake_good:plugin")])
    with pytest.raises(PluginError, match=r"'dup'.*dist-a.*dist-b"):
        reg.get("dup")
    status = [s for s in reg.status() if s.name == "dup"]
    assert {s.distribution for s in status} == {"dist-a", "dist-b"}
    assert all(s.conflict and not s.ok for s in status)
    assert [p.name for p in reg.plugins()] == ["good"]
    assert reg.recipe("lista")[0].name == "good"


@pytest.mark.parametrize("exc", ["SystemExit(3)", "SystemExit('bye')", "GeneratorExit()"])
def test_base_exception_at_import_marks_the_plugin_broken(fake_modules, tmp_path, monkeypatch, exc):
    (tmp_path / "exits_at_import.py").write_text(f"raise {exc}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "exits_at_import", raising=False)
    reg = Registry([ep("exits", "exits_at_import:plugin"), ep("good", "fake_good:plugin")])
    status = {s.name: s for s in reg.status()}
    assert not status["exits"].ok and exc.split("(")[0] in status["exits"].error
    assert status["good"].ok


def test_keyboard_interrupt_at_import_is_not_swallowed(tmp_path, monkeypatch):
    (tmp_path / "interrupts_at_import.py").write_text("raise KeyboardInterrupt\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "interrupts_at_import", raising=False)
    with pytest.raises(KeyboardInterrupt):
        Registry([ep("ki", "interrupts_at_import:plugin")]).get("ki")


def test_list_and_version_survive_conflicts_and_exiting_plugins(fake_modules, tmp_path, monkeypatch,
                                                                capsys):
    from unfold import cli

    (tmp_path / "exits_at_import.py").write_text("import sys\nsys.exit(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "exits_at_import", raising=False)
    reg = Registry([ep("admm-pr", "a:plugin", "dist-a"), ep("admm-pr", "b:plugin", "dist-b"),
                    ep("exits", "exits_at_import:plugin"), ep("good", "fake_good:plugin")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("CONFLICT") == 2 and "dist-a" in out and "dist-b" in out
    assert "exits" in out and "BROKEN" in out and "SystemExit" in out
    assert "recipe lista" in out
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert cli.main(["admm-pr", "reconstruct"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dist-a" in err and "dist-b" in err


def test_unknown_names_list_known(fake_modules):
    reg = Registry([ep("good", "fake_good:plugin")])
    with pytest.raises(PluginError, match="unknown plugin 'nope'; known plugins: good"):
        reg.get("nope")
    with pytest.raises(PluginError, match="unknown recipe 'nope'; known recipes: lista"):
        reg.recipe("nope")


def test_loaded_object_is_validated(fake_modules):
    reg = Registry([ep("wrong", "fake_wrong:plugin"), ep("named", "fake_named:plugin")])
    with pytest.raises(PluginError, match="must point at an unfold.Plugin"):
        reg.get("wrong")
    with pytest.raises(PluginError, match="calls itself 'other-name'"):
        reg.get("named")


def test_installed_registry_lists_shipped_plugins():
    names = Registry().names()
    assert names == sorted(names)
