"""The whole stack as processes, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from schemas.config import TurnoutConfig
from turnout.stack import Stack


@contextmanager
def running_stack(make_config: Any, *, workers: int = 2, **sections: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    path, config = make_config(**sections)
    with Stack(path, config, workers=workers, log_dir=path.parent / "logs", delete_topics_on_stop=True) as stack:
        stack.wait_ready()
        yield stack, config
