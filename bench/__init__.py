"""Turnout's benchmark: Turnout beside a direct call and LiteLLM's proxy, in one run (issue 10).

``make bench`` or ``turnout bench [--quick]``; see bench/README.md.
"""
