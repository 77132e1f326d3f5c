"""Thin Ray Serve wrappers around models/: one deployment per branch plus the HTTP ingress."""
