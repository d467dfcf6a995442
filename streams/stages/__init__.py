"""Pure stage cores: no faust, httpx or redis here. Each takes an event, the state it needs and the
clock, and returns a decision; ``streams.pipeline`` runs them, and the agents move the events."""
