"""An example third-party ganzoo plugin."""
