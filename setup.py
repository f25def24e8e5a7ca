"""Builds the Cython twins in native/ as smsc.codec.<name>.

Every native/*.pyx becomes an extension module in smsc.codec with the same base name.
Extensions are not optional: a compile error fails the install instead of quietly
shipping the pure-Python twin (the failure mode of msgpack issue #481).
"""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

extensions = [
    Extension(f"smsc.codec.{pyx.stem}", [str(pyx)], extra_compile_args=["-O3"])
    for pyx in sorted(Path("native").glob("*.pyx"))
]

setup(
    # bench/ is installed as smsc.bench, so `smsc load` and the bench scripts share one
    # load generator that lives with the other bench code.
    packages=find_packages(include=["smsc", "smsc.*"]) + ["smsc.bench"],
    package_dir={"smsc.bench": "bench"},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)
