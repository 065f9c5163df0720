"""deploy/ runs Enketo beside fieldsync: the compose file, Enketo's config, the TLS
proxies and fieldsync's settings agree with each other and with docs/enketo.md,
and only the proxy faces the network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENKETO = ROOT / "deploy" / "enketo"
COMPOSE = yaml.safe_load((ENKETO / "compose.yaml").read_text())
CONFIG = json.loads((ENKETO / "config.json.example").read_text())
ENV = dict(line.split("=", 1) for line in (ENKETO / "enketo.env.example").read_text()
           .splitlines() if line and not line.startswith("#"))
CONFIG_IN_IMAGE = "/srv/src/enketo/packages/enketo-express/config/config.json"
VERSION = "7.6.4"


def test_the_compose_file_runs_the_documented_enketo_version():
    image = COMPOSE["services"]["enketo"]["image"]
    assert image == f"ghcr.io/enketo/enketo:{VERSION}"
    doc = (ROOT / "docs" / "enketo.md").read_text()
    assert f"Enketo Express {VERSION}" in doc and image in doc


def test_only_enketo_is_published_and_only_on_loopback():
    services = COMPOSE["services"]
    assert services["enketo"]["ports"] == [f"127.0.0.1:{CONFIG['port']}:{CONFIG['port']}"]
    assert [name for name, s in services.items() if "ports" in s] == ["enketo"]


def test_enketo_reads_its_config_from_the_mounted_file():
    mounts = COMPOSE["services"]["enketo"]["volumes"]
    assert f"/etc/fieldsync/enketo-config.json:{CONFIG_IN_IMAGE}:ro" in mounts


def test_enketos_redis_settings_name_the_compose_services_and_their_ports():
    services = COMPOSE["services"]
    for role in ("main", "cache"):
        redis = CONFIG["redis"][role]
        service = services[redis["host"]]
        assert service["command"][service["command"].index("--port") + 1] == redis["port"]
        assert redis["host"] in services["enketo"]["depends_on"]
    assert "--appendonly" in services[CONFIG["redis"]["main"]["host"]]["command"]


def test_enketo_is_locked_to_fieldsync_and_needs_tls_for_sign_in():
    server = CONFIG["linked form and data server"]
    assert server["authentication"] == {"type": "basic", "allow insecure transport": False}
    host = re.sub(r"^https://", "", ENV["FIELDSYNC_SERVER_URL"])
    assert server["server url"] == host and ENV["FIELDSYNC_SERVER_URL"].startswith("https://")
    assert server["api key"] == ENV["FIELDSYNC_ENKETO_API_KEY"]  # the same secret, both sides
    assert CONFIG["offline enabled"] is True and CONFIG["id length"] == 31


def test_fieldsync_reaches_enketo_at_its_base_path_through_the_proxy():
    base = CONFIG["base path"]
    assert ENV["FIELDSYNC_ENKETO_URL"] == f"{ENV['FIELDSYNC_SERVER_URL']}/{base}"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    tls = nginx[nginx.index("listen 443 ssl"):]
    block = re.search(rf"location /{re.escape(base)}/ \{{(.*?)\}}", tls, re.S)
    assert block, "nginx serves Enketo only in its TLS server block"
    assert f"proxy_pass http://127.0.0.1:{CONFIG['port']};" in block.group(1)
    assert "X-Forwarded-Proto $scheme" in block.group(1)
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert re.search(rf"handle /{re.escape(base)}/\* \{{\s*reverse_proxy 127\.0\.0\.1:"
                     rf"{CONFIG['port']}\s*\}}", caddy)


def test_the_fieldsync_unit_reads_the_enketo_settings_file():
    unit = (ROOT / "deploy" / "systemd" / "fieldsync.service").read_text()
    assert "EnvironmentFile=-/etc/fieldsync/enketo.env" in unit.splitlines()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or shutil.which("docker") is None,
                    reason="no systemd-analyze or docker")
def test_systemd_analyze_verify_accepts_the_enketo_unit(tmp_path):
    unit = (ENKETO / "fieldsync-enketo.service").read_text()
    assert "-f /opt/fieldsync/deploy/enketo/compose.yaml up" in unit
    (tmp_path / "fieldsync-enketo.service").write_text(
        unit.replace("/usr/bin/docker", shutil.which("docker")))
    # Docker's own unit, where this machine has none installed
    (tmp_path / "docker.service").write_text("[Unit]\nDescription=stand-in\n[Service]\n"
                                             "ExecStart=/bin/true\n")
    out = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "docker.service"),
                          str(tmp_path / "fieldsync-enketo.service")],
                         capture_output=True, text=True, timeout=120)
    problems = [line for line in out.stderr.splitlines() if str(tmp_path) in line]
    assert out.returncode == 0 and not problems, out.stderr
