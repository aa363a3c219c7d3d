"""Pure send policy: what a message costs and which legal method to use."""
