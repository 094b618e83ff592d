"""Start and stop the test API server, in-process or as a program.

    python -m tests.k8s_api.server --port 0 --kubeconfig-out /tmp/kubeconfig [--install-crds | --harvester node1,node2]

prints the URL once it listens and serves until interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.k8s_api.cluster import Cluster, WriteOptions
from tests.k8s_api.faults import Faults
from tests.k8s_api.routing import ApiHttpServer
from tests.k8s_api.watch import WatchSettings


class TestApiServer:
    """One server: its cluster state, its fault handle, and an HTTP listener on 127.0.0.1."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        port: int = 0,
        bookmark_interval: float = 1.0,
        event_window: int = 10_000,
        default_watch_timeout: float = 1800.0,
    ) -> None:
        self.cluster = Cluster(event_window=event_window)
        self.faults = Faults()
        settings = WatchSettings(bookmark_interval=bookmark_interval, default_timeout=default_watch_timeout)
        self._http = ApiHttpServer(("127.0.0.1", port), self.cluster, self.faults, settings)
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def watch_settings(self) -> WatchSettings:
        return self._http.watch_settings

    def set_bookmark_interval(self, seconds: float) -> None:
        self._http.watch_settings = WatchSettings(seconds, self._http.watch_settings.default_timeout)

    def start(self) -> TestApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self.cluster.controllers.stop()

    def __enter__(self) -> TestApiServer:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "hvnet-test", "cluster": {"server": self.url}}],
            "users": [{"name": "hvnet-test", "user": {"token": "hvnet-test"}}],
            "contexts": [
                {
                    "name": "hvnet-test",
                    "context": {"cluster": "hvnet-test", "user": "hvnet-test", "namespace": "default"},
                }
            ],
            "current-context": "hvnet-test",
        }

    def write_kubeconfig(self, path: str | Path) -> str:
        Path(path).write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return str(path)

    def install_crds(self) -> None:
        """Register hvnet's CRDs directly (no HTTP) and wait until they are served."""
        from harvester_network.render.crds import custom_resource_definitions

        crd_type = self.cluster.type_of(("apiextensions.k8s.io", "customresourcedefinitions"))
        for crd in custom_resource_definitions():
            opts = WriteOptions(field_manager="hvnet-test-server")
            if self.cluster.store.get(crd_type.storage_key, "", crd["metadata"]["name"]) is None:
                self.cluster.create(crd_type, None, crd, opts)
        self.cluster.controllers.settle()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Kubernetes API server for tests (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig-out", required=True, help="where to write a kubeconfig for this server")
    parser.add_argument("--install-crds", action="store_true", help="serve hvnet's CRDs from the start")
    parser.add_argument("--harvester", metavar="NODES", help="be a Harvester with these nodes (comma-separated)")
    parser.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between watch bookmarks")
    args = parser.parse_args(argv)
    server = TestApiServer(port=args.port, bookmark_interval=args.bookmark_interval).start()
    if args.install_crds:
        server.install_crds()
    if args.harvester:
        from tests.k8s_api.harvester.mode import HarvesterMode

        harvester = HarvesterMode(server).install()
        for node in args.harvester.split(","):
            harvester.add_node(node)
    server.write_kubeconfig(args.kubeconfig_out)
    print(server.url, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
