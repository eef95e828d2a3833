"""Rerankers behind ``tools.protocols.Reranker`` that are adapters to a service: a cross-encoder behind
a ``/rerank`` endpoint. The listwise LLM reranker is node logic (agents/rerank.py)."""

from sleuth.tools.rerank.endpoint import EndpointReranker

__all__ = ["EndpointReranker"]
