"""Persistence: SQLAlchemy models, engine and migrations."""
