"""proteinlm: protein/text training data and ProteinLMBench-style evaluation of LLMs."""

# The one place the version is written: pyproject.toml reads it from here (setuptools dynamic
# version). Importing importlib.metadata to look it up cost ~15 ms of every command's start.
__version__ = "0.1.0"
