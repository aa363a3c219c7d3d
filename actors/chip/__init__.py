"""The chip (phone number) actor and its messages."""

from actors.chip.actor import ChipActor
from actors.chip.messages import ChipMsg, ChipSnapshot, GetSnapshot, Pause, Resume

__all__ = ["ChipActor", "ChipMsg", "ChipSnapshot", "GetSnapshot", "Pause", "Resume"]
