"""The run directory and its files (config, candidates, front, state, trained rows), read and written without torch."""
