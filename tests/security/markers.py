"""Marker secrets planted in every input that may carry credentials, and kubeconfigs broken in every way we
know, each holding the markers. A test passes the input in and looks for the markers in everything that comes out.
"""

from __future__ import annotations

import base64

TOKEN = "hvnet-marker-token-5f1c9e"
CLIENT_KEY = "hvnet-marker-client-key-77ab"
PASSWORD = "hvnet-marker-password-c0ffee"
MARKERS = (TOKEN, CLIENT_KEY, PASSWORD)
KEY_DATA = base64.b64encode(CLIENT_KEY.encode()).decode()  # how a kubeconfig carries a key

_CLUSTER = "clusters: [{name: c, cluster: {server: 'https://192.0.2.1:6443'}}]"
_CONTEXT = "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x"
_USER = f"{{token: {TOKEN}, client-key-data: {KEY_DATA}, username: admin, password: {PASSWORD}}}"

# name -> (kubeconfig text, a phrase the error must contain: it names the problem and the field)
MALFORMED_KUBECONFIGS = {
    "unclosed flow mapping on the token's line": (
        f"apiVersion: v1\n{_CLUSTER}\nusers:\n- name: u\n  user: {{token: {TOKEN}, password: {PASSWORD}\n{_CONTEXT}\n",
        "is not valid YAML",
    ),
    "a tab before the client key": (
        f"apiVersion: v1\n{_CLUSTER}\nusers:\n- name: u\n  user:\n\tclient-key-data: {KEY_DATA}\n",
        "is not valid YAML",
    ),
    "a token that is not valid base64 in a data field": (
        f"apiVersion: v1\n{_CLUSTER}\nusers: [{{name: u, user: {{client-key-data: '{TOKEN}!'}}}}]\n{_CONTEXT}\n",
        "users[name=u].user.client-key-data is not valid base64",
    ),
    "a context naming a missing cluster": (
        f"apiVersion: v1\nusers: [{{name: u, user: {_USER}}}]\n{_CONTEXT}\n",
        "clusters",
    ),
    "a cluster without a server": (
        f"apiVersion: v1\nclusters: [{{name: c, cluster: {{}}}}]\nusers: [{{name: u, user: {_USER}}}]\n{_CONTEXT}\n",
        "clusters[name=c].cluster.server is missing",
    ),
    "no current context": (f"apiVersion: v1\n{_CLUSTER}\nusers: [{{name: u, user: {_USER}}}]\n", "current-context"),
    "a user that is the token itself": (
        f"apiVersion: v1\n{_CLUSTER}\nusers: [{{name: u, user: {TOKEN}}}]\n{_CONTEXT}\n",
        "users[name=u].user must be a mapping",
    ),
    "an exec plugin whose command holds the token": (
        f"apiVersion: v1\n{_CLUSTER}\nusers: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1,"
        f" command: /nonexistent/{TOKEN}}}}}}}]\n{_CONTEXT}\n",
        "",  # the library logs the failure and goes on without credentials; only the log is checked
    ),
    "a list, not a mapping": (f"- {TOKEN}\n- {PASSWORD}\n", "is not a kubeconfig"),
}
# What the client library accepts: with these, the agent would go on to the API (and the host), so CLI tests skip them.
LOADABLE = {"an exec plugin whose command holds the token"}


# What gives a marker away, even cut short (PyYAML's snippet of a line ends in " ... " after about 70 characters).
_TELLTALES = ("hvnet-marker", KEY_DATA[:16])


def leaked(*texts: str) -> list[str]:
    """The telltales of the markers (or of the key's base64) found in any of the texts."""
    return [m for m in _TELLTALES if any(m in t for t in texts)]
