"""The one compiled module: the flat-file field reader and the comment cleaning
(src/proteinlm/sources/_flatfile.c, _textclean.c). Optional: without a C compiler the install goes
on and the Python code they mirror does the same work."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "proteinlm.sources._flatfile",
            ["src/proteinlm/sources/_flatfile.c", "src/proteinlm/sources/_textclean.c",
             "src/proteinlm/sources/_pieces.c"],
            depends=["src/proteinlm/sources/_ctext.h"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
