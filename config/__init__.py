"""Configuration of metad: the models of ``metad.toml`` and their loading."""
