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


def test_duplicate_names_name_both_distributions():
    with pytest.raises(PluginError, match=r"'dup'.*dist-a.*dist-b"):
        Registry([ep("dup", "a:plugin", "dist-a"), ep("dup", "b:plugin", "dist-b")])


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
