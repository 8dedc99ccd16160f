"""Maps the ``plugins/`` folder to the ``unfold_plugins`` import package.

Everything else lives in pyproject.toml; only the computed package list needs code.
"""

from setuptools import find_packages, setup

core = find_packages(include=["unfold", "unfold.*"])
plugins = ["unfold_plugins"] + [f"unfold_plugins.{p}" for p in find_packages("plugins")]
setup(packages=core + plugins, package_dir={"unfold_plugins": "plugins"})
