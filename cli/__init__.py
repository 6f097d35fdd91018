"""Command-line tools of `python -m echo_stream` (besides the demo)."""
