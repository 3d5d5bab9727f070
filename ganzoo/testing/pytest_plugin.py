"""pytest plugin (entry point ``pytest11``) exposing ganzoo's conformance harness to plugin authors."""
