"""Built-in ganzoo plugin ganzoo-images."""
