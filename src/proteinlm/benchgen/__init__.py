"""Benchmark question generation (template MCQs from structured data; more later)."""
