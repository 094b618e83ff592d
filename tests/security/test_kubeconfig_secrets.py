"""Malformed kubeconfigs holding marker secrets, through every way in (KubeTarget from contents and from a path,
`hvnet agent --kubeconfig PATH`, `--kubeconfig -`, $HVNET_KUBECONFIG_DATA, contents as the argument): the error
names the problem and the field; no marker shows in the message, stdout, stderr or the log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harvester_network.cli.agent_commands import KUBECONFIG_DATA_ENV
from harvester_network.kube import KubeError, KubeTarget
from tests.security.markers import LOADABLE, MALFORMED_KUBECONFIGS, TOKEN, leaked

CASES = sorted(MALFORMED_KUBECONFIGS)


def _target(how: str, text: str, tmp_path: Path) -> KubeTarget:
    if how == "contents":
        return KubeTarget.from_kubeconfig(text)
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return KubeTarget.from_kubeconfig(str(path))


@pytest.mark.parametrize("how", ["contents", "path"])
@pytest.mark.parametrize("case", CASES)
def test_kube_target_errors_name_the_problem_not_the_secret(
    case: str, how: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    text, phrase = MALFORMED_KUBECONFIGS[case]
    caplog.set_level(logging.DEBUG)
    message = ""
    try:
        _target(how, text, tmp_path).configuration()
    except KubeError as error:
        message = str(error)
        assert error.reason == "InvalidKubeconfig"
        assert phrase in message
        assert ("kubeconfig contents" if how == "contents" else str(tmp_path / "kubeconfig")) in message
    else:
        assert case in LOADABLE, f"{case}: loaded without an error"
    out, err = capfd.readouterr()
    assert leaked(message, caplog.text, out, err) == []


def _hvnet_agent(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real command in its own process: what it prints, logging included."""
    return subprocess.run(
        [sys.executable, "-c", "from harvester_network.cli import app; app()", "agent", "--node", "n1", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": "", "COLUMNS": "200", **env},
    )


REFUSED = [c for c in CASES if c not in LOADABLE]


@pytest.mark.parametrize("how", ["path", "stdin", "env"])
@pytest.mark.parametrize("case", REFUSED)
def test_hvnet_agent_refuses_a_malformed_kubeconfig_without_printing_it(case: str, how: str, tmp_path: Path) -> None:
    text, phrase = MALFORMED_KUBECONFIGS[case]
    path = tmp_path / "kc"
    path.write_text(text)
    args, env, stdin = {
        "path": (["--kubeconfig", str(path)], {}, ""),
        "stdin": (["--kubeconfig", "-"], {}, text),
        "env": ([], {KUBECONFIG_DATA_ENV: text}, ""),
    }[how]
    result = _hvnet_agent(args, env, stdin)
    assert result.returncode == 2, result.stderr
    output = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert "Invalid value for --kubeconfig" in output
    assert " ".join(phrase.split()) in output
    assert "Traceback" not in output
    assert leaked(result.stdout, result.stderr) == []


@pytest.mark.parametrize(
    "value", [MALFORMED_KUBECONFIGS["no current context"][0], json.dumps({"users": [{"token": TOKEN}]})]
)
def test_contents_as_the_argument_are_refused_and_not_echoed(value: str) -> None:
    result = _hvnet_agent(["--kubeconfig", value], {})
    assert result.returncode == 2
    assert "takes the PATH of a kubeconfig file, not its contents" in " ".join(result.stderr.replace("│", " ").split())
    assert leaked(result.stdout, result.stderr) == []


def test_a_value_that_is_no_path_is_not_echoed_when_missing() -> None:
    """A base64 kubeconfig or a bare token given as the path: its length is shown, not itself."""
    result = _hvnet_agent(["--kubeconfig", TOKEN * 10], {})
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert leaked(result.stdout, result.stderr) == []


def test_an_unreachable_api_is_named_without_the_credentials(caplog: pytest.LogCaptureFixture) -> None:
    """A kubeconfig that loads (token, client key) but whose server does not answer: the error names the server."""
    from harvester_network.kube import KubeClient

    kubeconfig = (
        "apiVersion: v1\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        f"users: [{{name: u, user: {{token: {TOKEN}}}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(KubeError) as unreachable, KubeClient(KubeTarget.from_kubeconfig(kubeconfig)) as kube:
        kube.get("Node", "n1")
    assert unreachable.value.reason == "Unreachable" and "host='127.0.0.1', port=9" in str(unreachable.value)
    assert leaked(str(unreachable.value), caplog.text) == []
