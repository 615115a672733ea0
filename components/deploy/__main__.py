"""Operate a kfx InferenceService by hand: ``python -m components.deploy {status,rollback} --name X --namespace Y``.

Uses the in-cluster config in a pod, else the kubeconfig (``KUBECONFIG``), with the same Role as the pipeline's
deploy step (manifests/base/rbac.yaml). Prints JSON; exits 1 with the reason on failure.
"""

from __future__ import annotations

import argparse
import json
import sys

from components.deploy.params import DeployParams


def _help(field: str) -> str:
    return DeployParams.__dataclass_fields__[field].metadata["help"]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m components.deploy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command, text in (("status", "what the InferenceService serves, and whether a rollout is unfinished"),
                          ("rollback", "roll back to the model served before the last kfx rollout")):  # fmt: skip
        p = sub.add_parser(command, help=text)
        p.add_argument("--name", required=True, help=_help("name"))
        p.add_argument("--namespace", required=True, help=_help("namespace"))
        if command == "rollback":
            p.add_argument("--timeout-seconds", type=int, default=600, help=_help("timeout_seconds"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from components.deploy.logic import DeployError, roll_back, service_status

    try:
        if args.command == "status":
            out = service_status(args.name, args.namespace)
        else:
            out = roll_back(args.name, args.namespace, timeout_seconds=args.timeout_seconds)
    except DeployError as e:
        print(f"{args.command} failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
