"""docker-compose.yml describes the same stack as scripts/services.sh (tests never run Docker)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from schemas.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_matches_the_example_config() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"kafka", "redis", "qdrant", "clickhouse", "grafana"}
    for name, service in services.items():
        assert isinstance(service["image"], str) and ":" in service["image"], f"{name} pins an image tag"
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond loopback"
    config = load_config(ROOT / "config" / "turnout.yaml")
    kafka_port = config.kafka.bootstrap.rsplit(":", 1)[1]
    redis_port = config.redis.url.rsplit(":", 1)[1].split("/")[0]
    assert f"127.0.0.1:{kafka_port}:{kafka_port}" in services["kafka"]["ports"]
    assert services["kafka"]["image"].endswith(":3.9.1"), "same Kafka version as services/kafka/pom.xml"
    assert f"127.0.0.1:{redis_port}:{redis_port}" in services["redis"]["ports"]
    assert "<kafka.version>3.9.1</kafka.version>" in (ROOT / "services" / "kafka" / "pom.xml").read_text()


def test_the_grafana_dashboard_queries_tables_the_migrations_create() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = {v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    assert mounted == {"./grafana/provisioning", "./grafana/dashboards"}
    source = yaml.safe_load((ROOT / "grafana/provisioning/datasources/clickhouse.yaml").read_text())["datasources"][0]
    dashboard = json.loads((ROOT / "grafana/dashboards/turnout.json").read_text())
    created = set()
    for migration in (ROOT / "sinks/migrations").glob("*.sql"):
        created |= set(re.findall(r"CREATE (?:TABLE|VIEW) IF NOT EXISTS \{db\}\.(\w+)", migration.read_text()))
    queried = set()
    for panel in dashboard["panels"]:
        (target,) = panel["targets"]
        assert target["datasource"]["uid"] == source["uid"] == panel["datasource"]["uid"]
        queried |= set(re.findall(r"FROM turnout\.(\w+)", target["rawSql"]))
    assert queried and queried <= created, queried - created
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
