"""Packaging glue: the four top-level folders become the ``medianest`` namespace's subpackages."""

from setuptools import find_packages, setup

PARTS = ("core", "sdk", "config", "workers")

packages = []
for part in PARTS:
    packages.append(f"medianest.{part}")
    packages.extend(f"medianest.{part}.{sub}" for sub in find_packages(part))

setup(packages=packages)
