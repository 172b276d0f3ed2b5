"""Reading a finished run against the benchmark: picking an architecture, benchmark views, search quality (no torch)."""
