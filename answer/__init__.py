"""Answers grounded in the speeches: the answering chain (service.py), citations and their check, comparisons,
and the LLM backends (llm/). docs/answers.md explains the design."""
