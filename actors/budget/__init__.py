"""Pure budget ledger: caps per period in the configured zone, reservations, alerts."""
