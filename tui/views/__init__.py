"""The console's screens beyond the fleet and the events: campaigns, budget, templates and
the quality timeline. Each draws from :class:`tui.state.ConsoleState`; none calls the
daemon itself (the app fetches and tells them)."""
