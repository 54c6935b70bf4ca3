"""The engine's version: one place, read by the build (pyproject.toml), the CLI and reports."""

__version__ = "0.1.0"
