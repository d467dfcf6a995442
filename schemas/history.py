"""Snapshots of the event schemas, so every change is held backward compatible with the last.

    python -m schemas.history          # snapshot every event schema that changed as its next version

A snapshot (``schemas/avro/history/turnout.<Name>.v<N>.avsc``) is the schema with its named types
inlined, so it stays what it was when the files it referenced change. The codec registers every
snapshot's fingerprint, so data written with any landed version stays readable;
``tests/contract/test_schema_history.py`` checks each current schema reads each snapshot's data.
Run it after changing a schema (and never edit a snapshot).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas.codec import AVRO_DIR
from schemas.events import EVENT_TYPES

__all__ = ["snapshot_changed"]


def _fingerprint(schema: Any) -> str:
    return str(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def snapshot_changed(avro_dir: Path = AVRO_DIR) -> list[Path]:
    """Write a new version for each event schema that differs from its latest snapshot."""
    history = avro_dir / "history"
    history.mkdir(exist_ok=True)
    written = []
    for cls in EVENT_TYPES:
        name = cls.AVRO_NAME  # type: ignore[attr-defined]
        current = load_schema(str(avro_dir / f"{name}.avsc"), _write_hint=False)
        versions = sorted(
            (int(m.group(1)), p)
            for p in history.glob(f"{name}.v*.avsc")
            if (m := re.fullmatch(rf"{re.escape(name)}\.v(\d+)\.avsc", p.name))
        )
        if versions and _fingerprint(load_schema(str(versions[-1][1]), _write_hint=False)) == _fingerprint(current):
            continue
        path = history / f"{name}.v{versions[-1][0] + 1 if versions else 1}.avsc"
        path.write_text(json.dumps(current, indent=2) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in snapshot_changed():
        sys.stdout.write(f"wrote {written_path}\n")
