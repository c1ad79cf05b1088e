"""WIS server: secure information sharing and situation pictures for crisis collaboration."""

__version__ = "0.1.0"
