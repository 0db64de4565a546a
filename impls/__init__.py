"""Registered implementations and adapters: the NumPy reference, torch, and the candidate slot ``mine``."""
