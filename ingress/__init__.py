"""The HTTP ingress: OpenAI-compatible endpoints in front of the Kafka pipeline."""
