"""The compiled modules: the flat-file field reader, its cutting loop and the comment cleaning
(src/proteinlm/sources/_flatfile.c, _pieces.c, _textclean.c); the JSON writer of build rows and
the word-by-word token count (src/proteinlm/dataset/_rows.c, _wordcount.c). Optional: without a
C compiler the install goes on and the Python code they mirror does the same work."""

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
        Extension(
            "proteinlm.dataset._rows",
            ["src/proteinlm/dataset/_rows.c", "src/proteinlm/dataset/_wordcount.c"],
            depends=["src/proteinlm/sources/_ctext.h"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
