"""The server process helper the end-to-end tests share with the demo and the bench."""

from examples.serve_process import ServeProcess, free_port

__all__ = ["ServeProcess", "free_port"]
