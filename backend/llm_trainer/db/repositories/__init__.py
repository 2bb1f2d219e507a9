"""SQLAlchemy queries, one module per resource; services call these, never raw SQL elsewhere."""
