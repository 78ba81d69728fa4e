"""`make bench`: Qunzu vs vanilla Synapse, side by side (see bench/RESULTS.md)."""
