"""components layer; see README.md "Architecture"."""
