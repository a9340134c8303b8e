"""Speed and memory benchmarks (``make bench``). Each module writes ``results/bench/<name>.csv``."""
