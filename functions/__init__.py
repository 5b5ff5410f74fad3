"""Thin HTTP and timer adapters: parse, authorise, call shared/, respond."""
