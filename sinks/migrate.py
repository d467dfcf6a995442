"""Numbered ClickHouse migrations: ``sinks/migrations/NNNN_name.sql``, applied in order, once.

A landed migration is never edited; a change is a new file. ``{db}`` in a file is the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MIGRATIONS_DIR", "migrate", "pending_migrations"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _migrations(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        number = int(path.name.split("_", 1)[0])
        found.append((number, path))
    return found


def _statements(sql: str) -> list[str]:
    """The statements of a migration file: ``--`` comment lines dropped, split on ``;``."""
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


def pending_migrations(client: Any, database: str, directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    applied = {row[0] for row in client.query(f"SELECT version FROM {database}.schema_migrations").result_rows}
    return [(n, p) for n, p in _migrations(directory) if n not in applied]


def migrate(client: Any, database: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply what is pending; return the versions applied now."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    done = []
    for number, path in pending_migrations(client, database, directory):
        for statement in _statements(path.read_text().replace("{db}", database)):
            client.command(statement)
        client.insert(f"{database}.schema_migrations", [[number, path.name]], column_names=["version", "name"])
        done.append(number)
    return done
