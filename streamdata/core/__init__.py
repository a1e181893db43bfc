"""The embedded task/actor runtime (Ray Core's model on one machine)."""
