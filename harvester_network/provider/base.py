"""The machinery every dynamic provider shares: check/diff/create/read/update/delete of one Harvester object.

A provider never shapes a manifest: its inputs are plan fields (camelCase, as in plan.yaml), it turns them into a
one-item plan, validates that with the plan model and renders it with render/. Each kind states explicitly
(see the subclasses) which inputs describe it, which force a replacement, how it is rendered, when it is
ready and what blocks its deletion.

On Harvester (docs/harvester.md) a kind also states which fields it leaves to Harvester (`comparable`, `to_apply`),
which updates Harvester would refuse (`refusals`) and what must go before its object can be applied (`make_way`);
those checks run in preview too.

Dynamic providers are pickled (dill, by reference) into the Pulumi state, so a provider object holds no data;
the API server is reached through the `kubeconfig` (a secret) and `context` inputs, one short-lived client per
call.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from harvester_network.kube import (
    DEFAULT_TIMEOUT,
    FIELD_MANAGER,
    KubeClient,
    KubeError,
    KubeTarget,
    KubeTimeout,
    field_managers,
    kind_named,
)
from harvester_network.model import Plan, PlanError, PlanIssue, load_plan
from harvester_network.render import object_key

CONNECTION_INPUTS = ("kubeconfig", "context")
# How the provider behaves, not what the object is: changing them never touches the object.
BEHAVIOUR_INPUTS = ("adopt", "waitForReady", "timeout")
OBJECT_OUTPUT = "object"  # the live values of the fields we apply, for drift detection
# Seconds a preview waits for each answer of the cluster before it leaves the refusal check to the update.
PREVIEW_REQUEST_TIMEOUT = 5.0

# The model requires an uplink on every cluster network. Where the object does not depend on it (the
# ClusterNetwork itself, a NAD, an IPPool, a VM), a stand-in satisfies the model and never reaches an object.
STAND_IN_NIC = "stand-in0"
STAND_IN_UPLINK = {"nics": [STAND_IN_NIC]}


def stand_in_uplink(index: int) -> dict[str, list[str]]:
    """A stand-in uplink of its own, for plans with several cluster networks (one NIC cannot serve two)."""
    return {"nics": [f"stand-in{index}"]}


class ProviderError(Exception):
    """A provider operation that cannot go ahead; the message names the object, why and what to do."""


def has_unknown(value: Any) -> bool:
    """Whether a value still holds Pulumi's "computed" placeholder (during preview)."""
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return bool(value == UNKNOWN)


def from_wire(value: Any) -> Any:
    """Inputs as the plan model takes them: the engine sends every number as a float (protobuf Struct), and
    the model's integers are strict."""
    if isinstance(value, dict):
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def managed_view(live: Any, desired: Any) -> Any:
    """The live values at the paths the desired object sets: what drift detection compares. Fields others add
    (status, Harvester's annotations, managedFields) are left out; lists are compared whole."""
    if isinstance(desired, dict):
        live_map = live if isinstance(live, dict) else {}
        return {key: managed_view(live_map.get(key), value) for key, value in desired.items()}
    return live


def issue_text(issue: PlanIssue) -> str:
    return f"{issue.message} (fix: {issue.fix})" if issue.fix else issue.message


class ObjectProvider(ResourceProvider, ABC):
    """One Harvester object kind. Subclasses set the class attributes and implement `plan_data` and `render`."""

    # The instance holds no data (see the module docstring): nothing secret is captured when it is pickled.
    serialize_as_secret_always = False

    kind: ClassVar[str]
    # Inputs that describe the object (plan fields).
    spec_inputs: ClassVar[tuple[str, ...]]
    # Inputs Harvester will not let change in place: a change replaces the object.
    replace_on: ClassVar[tuple[str, ...]]
    # Outputs only the cluster can tell (declared on the resource, so they are attributes).
    cluster_outputs: ClassVar[tuple[str, ...]] = ()
    # Where plan issue paths point, by path prefix: "networks[0]" -> "" maps networks[0].vlan to the input `vlan`.
    input_paths: ClassVar[dict[str, str]]
    # Inputs whose change Harvester may refuse (see `refusals`): a preview that changes one asks the cluster.
    checked_in_preview: ClassVar[tuple[str, ...]] = ()
    # Whether a preview of a new object asks the cluster whether its staged step (`refuse_staging`) is refused.
    staging_checked_in_preview: ClassVar[bool] = False

    # --- what each kind states -----------------------------------------------------------------------------------

    @abstractmethod
    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The one-item plan (plan.yaml form) that these spec inputs stand for."""

    @abstractmethod
    def render(self, plan: Plan) -> dict[str, Any]:
        """The object, rendered from the validated one-item plan."""

    @abstractmethod
    def outputs(self, kube: KubeClient, plan: Plan, live: dict[str, Any]) -> dict[str, Any]:
        """Outputs besides the inputs and `object`: `cluster_outputs`, read from the cluster, and names derived
        from the inputs (shown in the state; the resource class offers them as attributes)."""

    def wait_ready(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        """Block until the object works (raise KubeTimeout naming what is pending). Default: nothing to wait for."""

    @abstractmethod
    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        """What Harvester would refuse the deletion for, one line each (empty: nothing)."""

    def comparable(self, view: dict[str, Any], plan: Plan) -> dict[str, Any]:
        """The part of a managed view that drift detection compares. Default: all of it."""
        return view

    def replaced_by(self, olds: dict[str, Any], news: dict[str, Any], changed: list[str]) -> list[str]:
        """The changed inputs that replace the object. Default: those in `replace_on`."""
        return [k for k in self.replace_on if k in changed]

    def to_apply(self, plan: Plan, obj: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
        """What to apply over `live` (None: not there yet) so that only our fields change. Default: the object."""
        return obj

    def refusals(self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any]) -> list[str]:
        """Why Harvester would refuse to update `live` to `obj`, one line each, with what to do. Default: nothing."""
        return []

    def make_way(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        """What must happen before `obj` is applied: remove what the plan no longer has and Harvester would refuse
        `obj` next to, or server-side apply cannot remove (Harvester took it over), or wait for Harvester (a staged
        change; `refuse_staging` first). Default: nothing."""

    def refuse_staging(self, kube: KubeClient, obj: dict[str, Any]) -> None:
        """Raise ProviderError, naming what to do, when Harvester would refuse `make_way`'s step. Default: nothing."""

    # --- Pulumi's dynamic provider interface ---------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = self._unknown_input_failures(news) + _behaviour_failures(news)
        spec = self._spec(news)
        if not has_unknown(spec):  # during preview an input may not be known yet; `up` checks again
            failures += [CheckFailure(self.input_for(issue.path), issue_text(issue)) for issue in self.issues(spec)]
        if not failures and not _olds and self.staging_checked_in_preview:  # a new object (diff checks updates)
            self._refuse_in_preview(news)
        return CheckResult(news, _unique(failures))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the last outputs: the inputs they were made from plus what the cluster reported.
        inputs = (*self.spec_inputs, *CONNECTION_INPUTS, *BEHAVIOUR_INPUTS)
        changed = [k for k in inputs if has_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        replaces = self.replaced_by(olds, news, changed)
        drifted = self._drifted(olds)
        if not replaces:
            if any(k in self.checked_in_preview for k in changed):
                self._refuse_in_preview(news)
            return DiffResult(changes=bool(changed) or drifted, replaces=[], delete_before_replace=False)
        # The new object can only be made next to the old one when its name differs.
        old_id, new_id = self._identity(olds), self._identity(news)
        return DiffResult(changes=True, replaces=replaces, delete_before_replace=new_id is None or old_id == new_id)

    def create(self, props: dict[str, Any]) -> CreateResult:
        plan, obj = self._render_checked(props)
        with self._client(props) as kube:
            live = kube.get(self.kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            if live is not None:
                self._refuse_foreign(live, props)
                if live["metadata"].get("deletionTimestamp"):  # being deleted: let it go before reusing the name
                    meta = live["metadata"]
                    kube.delete_and_wait(self.kind, meta["name"], meta.get("namespace"), timeout=_timeout(props))
                    live = None
            self._refuse_what_harvester_refuses(kube, plan, obj, live)
            self.make_way(kube, obj, _timeout(props))
            live = self._apply_and_wait(kube, plan, obj, live, props)
            return CreateResult(object_key(obj), self._outputs(kube, props, plan, obj, live))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not self._spec(props):
            raise ProviderError(
                f"{id_}: dynamic resources cannot be imported; declare it and set adopt=True to take it over"
            )
        plan, obj = self._render_checked(props)
        with self._client(props) as kube:
            live = kube.get(self.kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            if live is None:  # gone: Pulumi drops it from the state and `up` creates it again
                return ReadResult("", {})
            return ReadResult(id_, self._outputs(kube, props, plan, obj, live))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        plan, obj = self._render_checked(news)
        with self._client(news) as kube:
            live = kube.get(self.kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            self._refuse_what_harvester_refuses(kube, plan, obj, live)
            self.make_way(kube, obj, _timeout(news))
            live = self._apply_and_wait(kube, plan, obj, live, news)
            return UpdateResult(self._outputs(kube, news, plan, obj, live))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        name, namespace = _name_from_id(id_)
        with self._client(props) as kube:
            blockers = self.delete_blockers(kube, name, namespace)
            if blockers:
                subject = kind_named(self.kind).subject(name, namespace)
                raise ProviderError(
                    f"delete {subject}: Harvester refuses while it is in use:\n"
                    + "\n".join(f"  - {line}" for line in blockers)
                    + "\nremove or detach those first, then run the deletion again"
                )
            kube.delete_and_wait(self.kind, name, namespace, timeout=_timeout(props))

    # --- shared steps ----------------------------------------------------------------------------------------

    def issues(self, spec: dict[str, Any]) -> list[PlanIssue]:
        try:
            load_plan(self.plan_data(spec), f"{self.kind} inputs")
        except PlanError as error:
            return error.issues
        return []

    def input_for(self, path: str) -> str:
        """The input an issue path points at: the longest matching prefix of `input_paths`, rewritten."""
        for prefix in sorted(self.input_paths, key=len, reverse=True):
            if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
                return f"{self.input_paths[prefix]}{path[len(prefix) :]}".lstrip(".")
        return path

    def desired(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The object these inputs render to (raises ProviderError listing every invalid input)."""
        return self._render_checked(inputs)[1]

    def _spec(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {k: from_wire(inputs[k]) for k in self.spec_inputs if inputs.get(k) is not None}

    def _render_checked(self, inputs: dict[str, Any]) -> tuple[Plan, dict[str, Any]]:
        try:
            plan, _ = load_plan(self.plan_data(self._spec(inputs)), f"{self.kind} inputs")
        except PlanError as error:
            problems = "\n".join(f"  - {self.input_for(i.path) or '<inputs>'}: {issue_text(i)}" for i in error.issues)
            raise ProviderError(f"{self.kind} inputs are invalid:\n{problems}") from None
        return plan, self.render(plan)

    def _identity(self, inputs: dict[str, Any]) -> tuple[str, str | None] | None:
        if has_unknown(self._spec(inputs)):
            return None
        try:
            meta = self.desired(inputs)["metadata"]
        except ProviderError:
            return None
        return meta["name"], meta.get("namespace")

    def _drifted(self, olds: dict[str, Any]) -> bool:
        """Whether the last read found the object's fields changed behind our back."""
        view = olds.get(OBJECT_OUTPUT)
        if not isinstance(view, dict):
            return False
        try:
            plan, obj = self._render_checked(olds)
        except ProviderError:
            return True
        return self.comparable(view, plan) != self.comparable(obj, plan)

    def _refuse_foreign(self, live: dict[str, Any], props: dict[str, Any]) -> None:
        managers = field_managers(live)
        if FIELD_MANAGER in managers or props.get("adopt"):
            return
        subject = kind_named(self.kind).subject(live["metadata"]["name"], live["metadata"].get("namespace"))
        written_by = ", ".join(sorted(m for m in managers if m)) or "unknown"
        raise ProviderError(
            f"create {subject}: it already exists and hvnet did not create it (written by: {written_by}). "
            "Set adopt=True to take it over (dynamic resources cannot be `pulumi import`ed), "
            "or delete it, or choose another name"
        )

    def _refuse_what_harvester_refuses(
        self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any] | None
    ) -> None:
        """Fail before anything changes when Harvester's webhooks would refuse the update (ProviderError)."""
        reasons = self.refusals(kube, plan, self.to_apply(plan, obj, live), live) if live is not None else []
        if reasons:
            subject = kind_named(self.kind).subject(obj["metadata"]["name"], obj["metadata"].get("namespace"))
            raise ProviderError(
                f"update {subject}: Harvester refuses this change now:\n"
                + "\n".join(f"  - {line}" for line in reasons)
                + "\nnothing was changed; run `pulumi up` again once that is done"
            )

    def _refuse_in_preview(self, news: dict[str, Any]) -> None:
        """The checks before an apply (`refusals`, `refuse_staging`), already in preview (diff; check, for a new
        object) when the inputs are known. A cluster that cannot be reached does not fail the preview: the apply
        checks again."""
        if has_unknown(self._spec(news)) or any(has_unknown(news.get(k)) for k in CONNECTION_INPUTS):
            return
        plan, obj = self._render_checked(news)
        with contextlib.suppress(KubeError), self._client(news, request_timeout=PREVIEW_REQUEST_TIMEOUT) as kube:
            live = kube.get(self.kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            self._refuse_what_harvester_refuses(kube, plan, obj, live)
            self.refuse_staging(kube, obj)

    def _apply_and_wait(
        self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any] | None, props: dict[str, Any]
    ) -> dict[str, Any]:
        live = kube.apply(self.to_apply(plan, obj, live))
        if props.get("waitForReady", True):
            try:
                self.wait_ready(kube, obj, _timeout(props))
            except KubeTimeout as timeout:
                raise ProviderError(
                    f"{timeout}. The object is applied: fix what is named and run `pulumi up` again (it takes the "
                    "object up), or set waitForReady=false where nothing reports status"
                ) from None
        return live

    def _outputs(
        self, kube: KubeClient, props: dict[str, Any], plan: Plan, obj: dict[str, Any], live: dict[str, Any]
    ) -> dict[str, Any]:
        view = self.comparable(managed_view(live, obj), plan)
        return {**props, **self.outputs(kube, plan, live), OBJECT_OUTPUT: view}

    def _client(self, props: dict[str, Any], **options: float) -> KubeClient:
        return KubeClient(KubeTarget.from_kubeconfig(props.get("kubeconfig"), props.get("context")), **options)

    def _unknown_input_failures(self, news: dict[str, Any]) -> list[CheckFailure]:
        known = {*self.spec_inputs, *CONNECTION_INPUTS, *BEHAVIOUR_INPUTS, *self.cluster_outputs, OBJECT_OUTPUT}
        return [
            CheckFailure(key, f"is not an input of {self.kind} (inputs: {', '.join(self.spec_inputs)})")
            for key in sorted(news)
            if key not in known and not key.startswith("__")
        ]


def _behaviour_failures(news: dict[str, Any]) -> list[CheckFailure]:
    failures = []
    kubeconfig = news.get("kubeconfig")
    if kubeconfig is not None and not has_unknown(kubeconfig) and not isinstance(kubeconfig, str):
        # Named, never shown: it holds credentials.
        failures.append(CheckFailure("kubeconfig", "must be a string: a kubeconfig file's contents or its path"))
    failures += [
        CheckFailure(key, "must be true or false")
        for key in ("adopt", "waitForReady")
        if news.get(key) is not None and not has_unknown(news[key]) and not isinstance(news[key], bool)
    ]
    timeout = news.get("timeout")
    positive_number = isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
    if timeout is not None and not has_unknown(timeout) and not positive_number:
        failures.append(CheckFailure("timeout", "must be a positive number of seconds"))
    return failures


def _timeout(props: dict[str, Any]) -> float:
    return float(props.get("timeout") or DEFAULT_TIMEOUT)


def _name_from_id(id_: str) -> tuple[str, str | None]:
    """The id is render's object key: `Kind/name` or `Kind/namespace/name`."""
    parts = id_.split("/")
    return (parts[2], parts[1]) if len(parts) == 3 else (parts[1], None)


def _unique(failures: list[CheckFailure]) -> list[CheckFailure]:
    """A field reached by two plan paths (a NAD's cluster network) is reported once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for failure in failures:
        key = (failure.property, failure.reason)
        if key not in seen:
            seen.add(key)
            out.append(failure)
    return out
