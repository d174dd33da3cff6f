"""The `dynint` command line."""
