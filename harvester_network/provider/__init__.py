"""provider layer; see README.md "Architecture"."""
