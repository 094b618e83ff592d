"""agent layer; see README.md "Architecture"."""
