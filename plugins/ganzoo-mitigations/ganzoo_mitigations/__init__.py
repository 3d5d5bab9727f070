"""Built-in ganzoo plugin ganzoo-mitigations."""
