"""lab layer; see README.md "Architecture"."""
