"""Provider adapters (pure translators) and the one module that talks to providers (transport)."""
