"""Campaigns at the daemon's edge: reading campaign files and their data files,
turning them into stored recipients, the dry-run plan, the CLI, and the adapter that
gives the coordinator actor the fleet."""
