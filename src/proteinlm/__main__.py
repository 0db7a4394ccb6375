"""`python -m proteinlm ...` (and `accelerate launch -m proteinlm train ...`) run the CLI."""

from proteinlm.cli import app

app(prog_name="proteinlm")
