"""The rollout: wait for readiness, smoke-test, promote or roll back, in either KServe deployment mode.

Knative (Serverless) mode, where KServe keeps revisions and splits traffic with ``canaryTrafficPercent``:
the new predictor is applied with ``canaryTrafficPercent: 0`` (no live traffic); once its revision is ready it
is smoke-tested through its own cluster-local tag address; rollout ``canary`` then gives it N% of live traffic
and tests it again; then it is promoted (``canaryTrafficPercent`` removed: 100%). On failure the previous
predictor spec is restored pinned with ``canaryTrafficPercent: 0`` so the stable revision keeps all traffic.

Standard (RawDeployment) mode, where ``canaryTrafficPercent`` is ignored: a candidate InferenceService
``<name>-candidate`` serving the new model is created and smoke-tested first (a canary in ``spec.canary`` has no
address of its own to test it at before it gets traffic); where the cluster's CRD has ``spec.canary`` (KServe
0.20+, detected by a server-side dry run) the verified model then gets ``canary_traffic_percent`` of live traffic
and is tested again; only then is the main one switched (a Deployment rolling update: old pods serve until new
ones are ready), tested again, and the candidate deleted.
A candidate that fails changes nothing in the main InferenceService.

Every rollout start records the previous predictor and the unverified candidate in annotations
(``isvc.CANDIDATE_ANNOTATION``), cleared on promotion or rollback. A deploy pod killed mid-rollout leaves them (and
in standard mode the candidate InferenceService) behind: :meth:`Rollout.resolve_stale` rolls that back first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from components._shared.log import get_logger, timed
from components.deploy import isvc as isvc_lib
from components.deploy import smoke
from components.deploy.errors import DeployError, RolloutFailed
from components.deploy.isvc import is_stale  # noqa: F401  (re-exported: its old home)
from components.deploy.kube import Kube

log = get_logger("deploy")

Verdict = Callable[[dict], "bool | str | None"]
FAILED_REASONS = ("RevisionFailed", "RevisionMissing")


def _failed(obj: dict) -> str | None:
    pred = isvc_lib.condition(obj, "PredictorReady") or isvc_lib.condition(obj, "Ready")
    if pred.get("status") == "False" and pred.get("reason") in FAILED_REASONS:
        return pred.get("message") or pred.get("reason")
    return None


def new_revision_ready(previous_created: str | None, generation: int) -> Verdict:
    def done(obj: dict) -> bool | str | None:
        if int((obj.get("status") or {}).get("observedGeneration") or 0) < generation:
            return None
        created = isvc_lib.predictor_status(obj).get("latestCreatedRevision")
        if not created or created == previous_created:
            return None
        if _failed(obj):
            return f"revision {created} failed to become ready: {_failed(obj)}"
        ready = isvc_lib.predictor_status(obj).get("latestReadyRevision") == created
        return True if ready and isvc_lib.condition(obj, "Ready").get("status") == "True" else None

    return done


def revision_ready(revision: str) -> Verdict:
    def done(obj: dict) -> bool | str | None:
        if _failed(obj):
            return f"revision {revision} is not ready: {_failed(obj)}"
        return True if isvc_lib.predictor_status(obj).get("latestReadyRevision") == revision else None

    return done


def holds_all_traffic(revision: str) -> Verdict:
    return lambda obj: True if isvc_lib.traffic_of(obj).get(revision) == 100 else None


def generation_ready(generation: int) -> Verdict:
    """Standard mode: the spec of ``generation`` is observed and Ready (its pods are up)."""

    def done(obj: dict) -> bool | str | None:
        if int((obj.get("status") or {}).get("observedGeneration") or 0) < generation:
            return None
        if _failed(obj):
            return f"the predictor failed to become ready: {_failed(obj)}"
        return True if isvc_lib.condition(obj, "Ready").get("status") == "True" else None

    return done


@dataclasses.dataclass
class Rollout:
    """One rollout against one InferenceService: the API, the smoke rows, the deadline."""

    kube: Kube
    instances: list[dict]
    runtime: str = "kfx"
    timeout_seconds: float = 600
    poll_seconds: float = 2.0
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = self.deadline or time.monotonic() + self.timeout_seconds

    @property
    def name(self) -> str:
        return self.kube.name

    def wait(self, what: str, done: Verdict, name: str | None = None, deadline: float | None = None) -> dict:
        """Poll until ``done`` says True (or a failure string: RolloutFailed); RolloutFailed at the deadline."""
        deadline = deadline or self.deadline
        while True:
            last = self.kube.get(name) or {}
            verdict = done(last)
            if verdict is True:
                return last
            if isinstance(verdict, str):
                raise RolloutFailed(verdict)
            if time.monotonic() >= deadline:
                ready = isvc_lib.condition(last, "Ready")
                raise RolloutFailed(
                    f"timed out waiting for {what} (Ready={ready.get('status', '?')}: "
                    f"{ready.get('reason', '')} {ready.get('message', '')})".rstrip()
                )
            time.sleep(self.poll_seconds)

    def smoke(self, url: str, what: str, model_name: str | None = None) -> int:
        """Smoke requests to ``url``; the model is named like its InferenceService (KServe's ``{{.Name}}``)."""
        with timed(log, f"smoke test: {len(self.instances)} eval rows against {what} at {url}") as t:
            t["rows"] = smoke.smoke_test(url, model_name or self.name, self.instances, self.runtime)
        return t["rows"]

    def grace_deadline(self) -> float:
        """Rollback and promotion get their own time, even when the rollout used all of its own."""
        return time.monotonic() + max(self.timeout_seconds, 60)

    def patch_unless_spec_moved(self, patch: dict, read: dict, dry_run: bool = False) -> dict:
        """Patch with the resourceVersion read; on 409, retry once if only the status moved (same generation)."""
        try:
            return self.kube.patch(patch, dry_run=dry_run)
        except DeployError as e:
            if getattr(e.__cause__, "status", None) != 409:
                raise
            now = self.kube.get()
            if now is None or isvc_lib.generation(now) != isvc_lib.generation(read):
                raise
            log.info("resourceVersion moved by a status update only; retrying the patch once")
            patch["metadata"]["resourceVersion"] = now["metadata"]["resourceVersion"]
            return self.kube.patch(patch, dry_run=dry_run)

    # ------------------------------------------------------------------------------------------ first deploy

    def first(self, desired: dict, mode: str) -> dict:
        """Create the InferenceService, wait until it is ready, smoke-test it (nothing served before)."""
        created = self.kube.create(desired)
        gen = isvc_lib.generation(created)
        done = new_revision_ready(None, gen) if mode == isvc_lib.KNATIVE else generation_ready(gen)
        obj = self.wait("the first model to become ready", done)
        self.smoke(smoke.main_address(obj), "the first model")
        return obj

    def check_serving(self, existing: dict) -> dict:
        """Already serving this exact spec: still answer for it (a failed first deploy must not pass on a re-run)."""
        self.smoke(smoke.main_address(existing), "the model already served")
        return existing

    # ------------------------------------------------------------------------------------------ Knative

    def knative(self, existing: dict, desired: dict, canary_percent: int, candidate_uri: str) -> dict:
        """New revision at 0% -> ready -> smoke via its tag address -> (canary: N% of live traffic, smoke again) ->
        promote; roll back on failure. Without a stable revision (nothing served) it simply gets 100% once ready."""
        stable = isvc_lib.stable_revision(existing)
        patch = isvc_lib.rollout_patch(existing, desired, 0 if stable else None, candidate_uri)
        previous_created = isvc_lib.predictor_status(existing).get("latestCreatedRevision")
        with timed(log, f"rolling out {candidate_uri} at 0% of traffic (stable revision {stable})"):
            patched = self.patch_unless_spec_moved(patch, existing)
        try:
            obj = self.wait("the new revision", new_revision_ready(previous_created, isvc_lib.generation(patched)))
            revision = isvc_lib.predictor_status(obj)["latestCreatedRevision"]
            self.smoke(smoke.revision_address(obj, revision) if stable else smoke.main_address(obj), revision)
            if stable and canary_percent:
                self._canary(revision, canary_percent)
        except RolloutFailed as e:
            self.knative_restore(existing, stable)
            raise RolloutFailed(f"{e}. Rolled back: {self._kept(existing, stable)}") from e
        return self.knative_promote(revision)

    def _canary(self, revision: str, percent: int) -> None:
        """The verified revision gets ``percent`` of live traffic; it must keep answering before promotion."""
        with timed(log, f"canary: revision {revision} gets {percent}% of traffic"):
            self.kube.patch({"spec": {"predictor": {"canaryTrafficPercent": percent}}})
            obj = self.wait(f"revision {revision} to get {percent}% of traffic",
                            lambda o: True if isvc_lib.traffic_of(o).get(revision) == percent else None)  # fmt: skip
        self.smoke(smoke.revision_address(obj, revision), f"{revision} at {percent}%")

    def knative_promote(self, revision: str) -> dict:
        with timed(log, f"promoting revision {revision} to 100%"):
            self.kube.patch({"metadata": {"annotations": {isvc_lib.CANDIDATE_ANNOTATION: None}},
                             "spec": {"predictor": {"canaryTrafficPercent": None}}})  # fmt: skip
            try:
                return self.wait(f"revision {revision} to get 100% of traffic", holds_all_traffic(revision),
                                 deadline=self.grace_deadline())  # fmt: skip
            except RolloutFailed as e:
                raise DeployError(f"promotion of revision {revision} did not complete: {e}") from e

    def knative_promote_existing(self, existing: dict) -> dict:
        """This model's revision exists already (pinned at 0% by a rollback): test it, then give it all traffic."""
        revision = isvc_lib.predictor_status(existing)["latestCreatedRevision"]
        obj = self.wait(f"revision {revision} to be ready", revision_ready(revision))
        self.smoke(smoke.revision_address(obj, revision), revision)
        return self.knative_promote(revision)

    def knative_restore(self, before: dict, stable: str | None) -> None:
        """Restore the predictor of ``before`` pinned at ``canaryTrafficPercent: 0``; wait until ``stable`` has 100%."""
        previous = {k: v for k, v in isvc_lib.predictor_spec(before).items() if k != "canaryTrafficPercent"}
        now = self.kube.get() or {}
        with timed(log, f"rolling back: previous model spec restored, revision {stable} keeps all traffic"):
            self.kube.patch(isvc_lib.restore_patch(now, previous, 0 if stable else None))
            if stable:
                try:
                    self.wait(f"revision {stable} to hold 100% of traffic", holds_all_traffic(stable),
                              deadline=self.grace_deadline())  # fmt: skip
                except RolloutFailed as e:
                    raise DeployError(f"rollback did not complete: {e}") from e

    @staticmethod
    def _kept(before: dict, stable: str | None) -> str:
        uri = isvc_lib.served_storage_uri(before)
        if stable:
            return f"revision {stable} ({uri}) keeps 100% of traffic"
        return f"nothing was serving before; the previous spec ({uri}) is restored"

    # ------------------------------------------------------------------------------------------ standard

    def standard(self, existing: dict, desired: dict, candidate: dict, candidate_uri: str, canary_percent: int) -> dict:
        """Candidate InferenceService -> ready -> smoke -> (``spec.canary`` where the CRD has it: N% of traffic,
        smoke) -> switch the main one -> ready -> smoke -> delete the candidate. A failing candidate leaves the main
        untouched; a failing canary or switch restores the previous spec."""
        cname = candidate["metadata"]["name"]
        try:
            with timed(log, f"testing {candidate_uri} on candidate InferenceService {cname}"):
                created = self.kube.create(candidate)
                obj = self.wait(f"candidate {cname}", generation_ready(isvc_lib.generation(created)), name=cname)
                self.smoke(smoke.main_address(obj), f"candidate {cname}", model_name=cname)
            if canary_percent and self.has_spec_canary(existing, desired):
                self._standard_canary(existing, desired, canary_percent, candidate_uri)
            obj = self._standard_switch(existing, desired, candidate_uri)
        finally:
            self._delete_candidate(cname)
        return obj

    def has_spec_canary(self, existing: dict, desired: dict) -> bool:
        """Whether the cluster's InferenceService CRD has ``spec.canary`` (KServe 0.20+): a server-side dry run keeps
        the field; an older CRD's structural schema prunes it."""
        probe = isvc_lib.canary_patch(existing, desired, 0, "dry-run")
        kept = isvc_lib.spec_canary(self.patch_unless_spec_moved(probe, existing, dry_run=True))
        log.info("spec.canary %s by this cluster's KServe", "is supported" if kept else "is not known")
        return bool(kept)

    def _standard_canary(self, existing: dict, desired: dict, percent: int, candidate_uri: str) -> None:
        with timed(log, f"canary: {candidate_uri} gets {percent}% of traffic (spec.canary)"):
            self.patch_unless_spec_moved(isvc_lib.canary_patch(existing, desired, percent, candidate_uri), existing)
            try:
                obj = self.wait(f"the canary to get {percent}% of traffic", canary_share(percent))
                self.smoke(smoke.main_address(obj), f"{self.name} with a {percent}% canary")
            except RolloutFailed as e:
                self.standard_restore(isvc_lib.predictor_spec(existing))
                raise RolloutFailed(f"{e}. Rolled back: the canary is removed") from e

    def _standard_switch(self, existing: dict, desired: dict, candidate_uri: str) -> dict:
        now = self.kube.get() or existing  # after a canary phase: the annotations already name what served before
        patch = isvc_lib.rollout_patch(now, desired, None, candidate_uri)
        patch["metadata"]["annotations"].update(
            {k: v for k, v in isvc_lib.rollout_annotations(existing, candidate_uri).items()}
        )
        patch["spec"]["predictor"].pop("canaryTrafficPercent", None)
        patch["spec"]["canary"] = None
        with timed(log, f"switching {self.name} to {candidate_uri} (verified on the candidate)"):
            patched = self.patch_unless_spec_moved(patch, existing)
        try:
            obj = self.wait(f"{self.name} to serve the new model", generation_ready(isvc_lib.generation(patched)))
            self.smoke(smoke.main_address(obj), self.name)
        except RolloutFailed as e:
            self.standard_restore(isvc_lib.predictor_spec(existing))
            raise RolloutFailed(f"{e}. Rolled back: {self.name} serves {isvc_lib.served_storage_uri(existing)}") from e
        return self.kube.patch({"metadata": {"annotations": {isvc_lib.CANDIDATE_ANNOTATION: None}}})

    def standard_restore(self, previous: dict) -> dict:
        now = self.kube.get() or {}
        patch = isvc_lib.restore_patch(now, previous, None)
        patch["spec"]["predictor"].pop("canaryTrafficPercent", None)
        patch["spec"]["canary"] = None
        with timed(log, f"rolling back {self.name}: previous model spec restored"):
            patched = self.kube.patch(patch)
            try:
                return self.wait(f"{self.name} to serve the previous model",
                                 generation_ready(isvc_lib.generation(patched)), deadline=self.grace_deadline())  # fmt: skip
            except RolloutFailed as e:
                raise DeployError(f"rollback did not complete: {e}") from e

    def _delete_candidate(self, cname: str) -> None:
        if self.kube.get(cname) is not None:
            self.kube.delete(cname)

    # ------------------------------------------------------------------------------------------ stale rollouts

    def resolve_stale(self, existing: dict | None, mode: str) -> tuple[dict | None, str | None]:
        """Roll back what a killed deploy left behind; (the InferenceService now, what was rolled back or None)."""
        what = []
        if mode == isvc_lib.STANDARD and self.kube.get(isvc_lib.candidate_name(self.name)) is not None:
            self.kube.delete(isvc_lib.candidate_name(self.name))
            what.append(f"deleted the candidate InferenceService {isvc_lib.candidate_name(self.name)}")
        if existing is not None and is_stale(existing):
            uri = isvc_lib.annotations_of(existing).get(isvc_lib.CANDIDATE_ANNOTATION) or isvc_lib.served_storage_uri(
                existing
            )
            self.roll_back(existing, mode)
            what.append(f"rolled back the unverified candidate {uri}")
        if not what:
            return existing, None
        log.warning("stale rollout of %s found (a deploy died mid-rollout): %s", self.name, "; ".join(what))
        return self.kube.get(), "; ".join(what)

    def roll_back(self, existing: dict, mode: str) -> dict:
        """Restore the predictor recorded at the last rollout start (stable revision keeps/gets all traffic)."""
        previous = isvc_lib.previous_predictor(existing)
        if previous is None:
            raise DeployError(
                f"InferenceService {self.kube.namespace}/{self.name} has no {isvc_lib.PREVIOUS_PREDICTOR_ANNOTATION} "
                "annotation (not rolled out by kfx): nothing recorded to roll back to; fix it with kubectl"
            )
        if mode == isvc_lib.STANDARD:
            return self.standard_restore(previous)
        if is_stale(existing):  # mid-canary: the stable revision still has (most) traffic; pin it
            stable = isvc_lib.predictor_status(existing).get("latestRolledoutRevision") or isvc_lib.stable_revision(
                existing
            )
            now = self.kube.get() or {}
            with timed(log, f"rolling back: previous model spec restored, revision {stable} keeps all traffic"):
                self.kube.patch(isvc_lib.restore_patch(now, previous, 0 if stable else None))
                if stable:
                    return self.wait(f"revision {stable} to hold 100% of traffic", holds_all_traffic(stable),
                                     deadline=self.grace_deadline())  # fmt: skip
            return self.kube.get() or {}
        return self._knative_undo(existing, previous)

    def _knative_undo(self, existing: dict, previous: dict) -> dict:
        """Undo a completed rollout: the previous (once verified) model gets all traffic once its revision is ready."""
        patch = isvc_lib.restore_patch(existing, previous, None)
        patch["metadata"]["annotations"].update(isvc_lib.rollout_annotations(existing, None))
        created = isvc_lib.predictor_status(existing).get("latestCreatedRevision")
        patched = self.kube.patch(patch)
        obj = self.wait("the previous model's revision", new_revision_ready(created, isvc_lib.generation(patched)),
                        deadline=self.grace_deadline())  # fmt: skip
        revision = isvc_lib.predictor_status(obj)["latestCreatedRevision"]
        return self.wait(f"revision {revision} to get 100% of traffic", holds_all_traffic(revision),
                         deadline=self.grace_deadline())  # fmt: skip


def canary_share(percent: int) -> Verdict:
    """Standard mode: ``spec.canary``'s pods are ready and it has ``percent`` of traffic."""

    def done(obj: dict) -> bool | None:
        statuses = (obj.get("status") or {}).get("canaryStatuses") or []
        return True if statuses and statuses[0].get("ready") and statuses[0].get("trafficPercent") == percent else None

    return done
