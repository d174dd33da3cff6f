"""Results tables: which runs make each table, and how they are aggregated and written."""
