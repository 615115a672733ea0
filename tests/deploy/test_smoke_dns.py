"""Smoke requests give a brand-new Service's cluster-local name time to resolve, and nothing else."""

import socket
import urllib.error
import urllib.request

import pytest

from components.deploy import smoke

pytestmark = pytest.mark.unit


def test_an_unresolvable_name_is_retried_then_fails_with_the_dns_error(monkeypatch):
    attempts = []
    real = urllib.request.urlopen

    def counting(*args, **kwargs):
        attempts.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting)  # counts real attempts; the request itself is real
    req = urllib.request.Request("http://kfx-no-such-service.invalid/v1/models/m:predict", data=b"{}", method="POST")
    with pytest.raises(urllib.error.URLError) as e:
        smoke._post_json(req, timeout_seconds=2, dns_grace=1.5)
    assert isinstance(e.value.reason, socket.gaierror)
    assert len(attempts) >= 2


def test_a_refused_connection_fails_at_once(monkeypatch):
    attempts = []
    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: attempts.append(1) or real(*a, **k))
    req = urllib.request.Request("http://127.0.0.1:9/v1/models/m:predict", data=b"{}", method="POST")
    with pytest.raises(urllib.error.URLError):
        smoke._post_json(req, timeout_seconds=2, dns_grace=30)
    assert len(attempts) == 1
