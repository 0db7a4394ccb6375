"""The compiled flat-file reader: the Swiss-Prot field reader and its entry-cutting loop
(src/proteinlm/sources/_flatfile.c, _pieces.c). Optional: without a C compiler the install goes on
and the Python reader it mirrors does the same work."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "proteinlm.sources._flatfile",
            ["src/proteinlm/sources/_flatfile.c", "src/proteinlm/sources/_pieces.c"],
            depends=["src/proteinlm/sources/_ctext.h"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
