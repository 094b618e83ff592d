"""kube layer; see README.md "Architecture"."""
