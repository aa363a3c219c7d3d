"""Meta → metad: the signed, durable webhook endpoint and what happens to its bodies."""
