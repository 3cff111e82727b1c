"""PFlow benchmarks: `benchmarks/run.py --quick|--full` (docs/benchmarks.md)."""
