"""Sleuth: agentic deep research with citations that resolve to the exact passage."""

__version__ = "0.1.0"
