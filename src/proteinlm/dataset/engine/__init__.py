"""The build engine: where a build runs (executors) and what it has done (task state, manifest checks)."""
