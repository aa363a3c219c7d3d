"""Campaigns: the pure rules (audience, schedule, cards, routing, progress) and the
coordinator actor that runs each campaign through the chip actors."""
