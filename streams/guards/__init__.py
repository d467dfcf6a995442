"""Guardrail detection cores: pure functions from text to findings, no faust, httpx or redis.

:func:`~streams.guards.pii.find_pii` finds personal data and secrets, :func:`~streams.guards.redact.redact`
replaces them by placeholders, :func:`~streams.guards.injection.injection_score` rates a prompt
injection (rule tables plus a small linear model), :class:`~streams.guards.banned.BannedPatterns` and
:class:`~streams.guards.content.ContentFilter` match config patterns, and
:func:`~streams.guards.json_output.validate_json_output` holds a reply to its ``response_format``. The
input and output guard stages call them. ``injection_model.json`` and ``injection_train.jsonl`` are
data files of this package (the model's weights and the examples they were trained on).
"""
