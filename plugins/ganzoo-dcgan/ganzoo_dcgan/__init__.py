"""Built-in ganzoo plugin ganzoo-dcgan."""
