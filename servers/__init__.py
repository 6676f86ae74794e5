"""Redis-protocol servers, one module per I/O model, sharing one parser and one command core."""

__version__ = "0.1.0"
