"""The base class of the builds' datatrove steps: datatrove's `PipelineStep`, or `object` where
datatrove is not installed (it is the optional `scale` extra), so that the stage modules import
without it; `executor_chain` refuses to run them then, naming the extra to install."""

try:
    from datatrove.pipeline.base import PipelineStep
except ImportError:
    PipelineStep = object  # type: ignore[assignment,misc]

__all__ = ["PipelineStep"]
