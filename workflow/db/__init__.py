"""The database: the tables declared once (records.py, tables.py), the store with every
statement beside its table (store.py), what a driver's error means (failures.py), and the schema
migrations (migrations/)."""
