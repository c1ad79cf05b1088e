"""Persistence: SQLAlchemy 2 async tables, repositories, the unit of work, migrations.

The only package that imports sqlalchemy. Content fields are sealed here, on the way in, and
opened on the way out, with the ContentCipher handed in by the composition root. `unit.Store`
and `unit.Tx` implement the services' ports (services/ports.py) structurally; the records they
return live in domain/, and no connection or sqlalchemy error leaves this package (an
integrity error becomes domain.errors.ConstraintViolated).
"""
