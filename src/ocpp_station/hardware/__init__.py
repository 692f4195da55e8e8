"""Hardware edge: small protocols (meter, lock, relay) and the simulated station that implements them."""
