"""docker-compose.yml for more than one machine's worth of processes: one port, two web replicas, shared Redis."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_one_public_port_in_front_of_two_web_replicas():
    services = _services()
    assert {"db", "redis", "migrate", "web", "worker", "proxy", "mail"} <= set(services)
    assert services["web"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    assert "ports" not in services["web"]  # reached only through the proxy
    assert any(str(p).endswith(":80") for p in services["proxy"]["ports"])
    mounted = services["proxy"]["volumes"][0].split(":")[0]
    config = (ROOT / mounted).read_text()
    assert re.search(r"server web:8000\b", config)  # the replicas, by their service name
    # The client's address reaches the app (per-IP limits) and cannot be forged by appending to the header.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in config
    assert services["web"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"


def test_every_app_process_shares_redis_and_waits_for_it():
    services = _services()
    for name in ("migrate", "web", "worker"):
        assert services[name]["environment"]["CRM_REDIS_URL"] == "redis://redis:6379/0"
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"
