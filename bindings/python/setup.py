"""setup.py beside pyproject.toml for what pyproject cannot say: the version (Cargo.toml's, the
project's one version) and, when the native library is inside the package, a platform wheel
(py3-none-<platform>: any Python 3, no CPython ABI, one platform)."""

import os
import re

from setuptools import setup
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "piwebasync_c")
NATIVE = [n for n in ("libpiwebasync.so", "piwebasync.dll", "libpiwebasync.dylib")
          if os.path.exists(os.path.join(PKG, n))]


def version():
    # A build copy made by scripts/build-wheel.sh carries _version.py; a checkout reads Cargo.toml.
    vfile = os.path.join(PKG, "_version.py")
    if os.path.exists(vfile):
        m = re.search(r'__version__ = "([^"]+)"', open(vfile).read())
        return m.group(1)
    cargo = open(os.path.join(HERE, "..", "..", "Cargo.toml")).read()
    section = cargo.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version = "([^"]+)"', section, re.M).group(1)


class NativeDistribution(Distribution):
    def has_ext_modules(self):
        return bool(NATIVE)


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = not NATIVE

    def get_tag(self):
        python, abi, plat = super().get_tag()
        if NATIVE:
            # ctypes, no extension module: one wheel serves every Python 3.
            return "py3", "none", plat
        return python, abi, plat


setup(version=version(), distclass=NativeDistribution, cmdclass={"bdist_wheel": PlatformWheel})
