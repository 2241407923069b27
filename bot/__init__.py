"""Screening chatbot for physical-therapy practices."""

__version__ = "0.1.0"
