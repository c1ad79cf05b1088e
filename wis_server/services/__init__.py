"""Use cases: each orchestrates the domain, the decision function and storage in one place.

Storage is reached only through the ports in services/ports.py (UnitOfWork, Transaction and
one Protocol per repository); the composition root (bootstrap.py) plugs in storage's Store.
An import-linter contract forbids this package to import wis_server.storage."""
