"""The one compiled module, the flat-file field reader (src/proteinlm/sources/_flatfile.c).
Optional: without a C compiler the install goes on and the Python reader does the same work."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("proteinlm.sources._flatfile", ["src/proteinlm/sources/_flatfile.c"], optional=True,
                  extra_compile_args=["-O2"]),
    ]
)
