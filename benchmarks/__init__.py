"""refgrad's benchmarks against the numpy floor and the engines a user would pick instead
(``python -m benchmarks``); ``bench_oracles.py`` measures the oracles."""
