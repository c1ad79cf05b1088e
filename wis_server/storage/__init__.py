"""Persistence: SQLAlchemy 2 async tables, repositories, the unit of work, migrations.

The only package that imports sqlalchemy. Content fields are sealed here, on the way in, and
opened on the way out, with the ContentCipher handed in by the composition root.
"""
