"""Settings ``build_app`` gives Faust that are not about Kafka."""

from __future__ import annotations

import tempfile
from pathlib import Path

from schemas.config import TurnoutConfig
from streams.app import build_app


def test_faust_data_directory_is_under_the_temp_dir_not_the_working_directory(
    example_config: TurnoutConfig,
) -> None:
    app = build_app(example_config)
    datadir = Path(app.conf.datadir)
    assert datadir.is_absolute()
    assert datadir.parent == Path(tempfile.gettempdir())  # which exists: faust makes no parents
    assert datadir.name == f"turnout-faust-{example_config.kafka.consumer_group}"  # per group, not per process
    assert not str(datadir).startswith(str(Path.cwd()))
