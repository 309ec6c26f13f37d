"""Emoji Cam: detect faces, classify expressions, draw emojis, send to a virtual camera."""

__version__ = "0.1.0"
