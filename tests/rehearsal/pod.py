"""One rehearsed step as a pod would run it: a subprocess in its own mount namespace, NOT a container.

What a step gets (and nothing else): the image-equivalent interpreter first on ``PATH``; ``HOME`` (an empty
directory); an empty working directory; the environment its caller computed from the compiled pipeline (image
``ENV``, the IR's env, resolved Secret references, what the kubelet adds); and, through bind mounts visible to
that process tree only, a private ``/tmp``, an ``/etc/hosts`` standing in for cluster DNS (service names of the
test doubles -> their loopback addresses), and ``/s3``, where KFP's launcher puts ``s3://<bucket>/<key>``
artifacts (``/s3/<bucket>/<key>``, kfp's own local mount convention).

What it does not isolate: the process still sees the host's other files and network (no chroot, no network
namespace), runs as the invoking user, and has no resource limits.

Needs ``unshare`` (util-linux) and either root or unprivileged user namespaces, plus an existing ``/s3``
directory as mount point (created when running as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

S3_MOUNT = "/s3"
_SANDBOX = r"""
set -e
mount --bind "$1" /s3
mount --bind "$2" /tmp
mount --bind "$3" /etc/hosts
cd "$4"
shift 4
exec "$@"
"""


class PodError(RuntimeError):
    """The rehearsal cannot start a pod on this machine (says what to install or create)."""


@dataclass
class PodResult:
    exit_code: int
    log: str
    killed: bool = False


@dataclass
class Pod:
    """The directories of one pod, under ``root``: ``s3/`` (-> /s3), ``tmp/`` (-> /tmp), ``home/``, ``work/``."""

    root: str
    hosts_file: str  # bind-mounted as /etc/hosts (cluster DNS stand-in, tests/rehearsal/dns.py)

    def __post_init__(self) -> None:
        for name in ("s3", "tmp", "home", "work"):
            os.makedirs(os.path.join(self.root, name), exist_ok=True)

    @property
    def home(self) -> str:
        return os.path.join(self.root, "home")

    def host_path(self, pod_path: str) -> str:
        """Where a path inside the pod (under /s3 or /tmp) lives on this machine."""
        for mount, local in ((S3_MOUNT, "s3"), ("/tmp", "tmp")):
            if pod_path == mount or pod_path.startswith(mount + "/"):
                return os.path.join(self.root, local, pod_path[len(mount) + 1 :])
        raise ValueError(f"{pod_path} is not under a rehearsed pod mount (/s3, /tmp)")

    def run(
        self,
        command: list[str],
        env: dict[str, str],
        timeout: float,
        kill_when: Callable[[], bool] | None = None,
    ) -> PodResult:
        """Run ``command`` in the pod; ``kill_when`` (polled) SIGKILLs it, like a deleted or evicted pod."""
        ensure_host_support()
        unshare = ["unshare", "--mount", "--propagation", "private"]
        if os.geteuid() != 0:
            unshare.append("--map-root-user")
        dirs = [os.path.join(self.root, d) for d in ("s3", "tmp")] + [self.hosts_file]
        argv = [*unshare, "sh", "-c", _SANDBOX, "sandbox", *dirs, os.path.join(self.root, "work"), *command]
        log_path = os.path.join(self.root, "log.txt")
        killed = False
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + timeout
            while proc.poll() is None:
                if (kill_when is not None and kill_when()) or time.monotonic() > deadline:
                    killed = True
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    break
                time.sleep(0.2)
        with open(log_path, errors="replace") as f:
            text = f.read()
        return PodResult(exit_code=proc.returncode, log=text, killed=killed)


def ensure_host_support() -> None:
    if shutil.which("unshare") is None:
        raise PodError("the cluster rehearsal needs `unshare` (util-linux) to give each step its own mounts")
    if not os.path.isdir(S3_MOUNT):
        try:
            os.makedirs(S3_MOUNT)
        except PermissionError as e:
            raise PodError(
                f"the cluster rehearsal needs an empty directory {S3_MOUNT} as a mount point (KFP's launcher puts "
                f"s3:// artifacts at {S3_MOUNT}/<bucket>/<key> in a pod): create it once with `sudo mkdir {S3_MOUNT}`"
            ) from e
