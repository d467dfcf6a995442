"""Avro schemas and their Python mirrors, the config model and the error hierarchy."""
