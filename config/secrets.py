"""Placeholder: replaced by the config helper."""
from __future__ import annotations
SecretRef = str
