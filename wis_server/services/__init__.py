"""Use cases: each orchestrates the domain, the decision function and storage in one place."""
