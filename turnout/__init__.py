"""Turnout: an AI gateway built as a stream-processing dataflow on Kafka."""

__version__ = "0.1.0"
