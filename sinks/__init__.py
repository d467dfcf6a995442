"""Consumers that move events out of Kafka: the ClickHouse sink."""
