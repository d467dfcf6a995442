"""The Faust app and its stages: input guard -> cache -> route -> invoke -> output guard."""
