"""Kafka's part of a hop, for ``python -m bench.hops --trace``: a diagnostic, never on in a stack of
its own.

``bench.hops --trace`` puts this folder first on the ``PYTHONPATH`` of the stack it starts, so every
Python process of the stack imports this module at start-up. Where ``TURNOUT_HOP_TRACE`` names a
folder, the process wraps three of aiokafka's methods and writes one line per event to
``<folder>/<pid>.log`` (wall-clock µs, the clock the spans use; the first line is the process's
command line):

- ``produce-sent``: a produce request written to the broker's socket,
- ``fetch-answer``: a fetch answer read from it (``<bytes>``),
- ``fetch-records``: a fetch answer that held records has been taken apart (the consumer's buffer
  has them; faust takes them next).

``bench.hop_parts`` reads them back beside the spans. The wrappers only add a line each: they change
no behaviour of the client.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

_FOLDER = os.environ.get("TURNOUT_HOP_TRACE")


def _install(folder: str) -> None:
    from aiokafka import conn
    from aiokafka.consumer import fetcher

    out = open(os.path.join(folder, f"{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115 (the process's life)
    out.write(f"# {' '.join(sys.argv)}\n")
    send, handle_frame = conn.AIOKafkaConnection.send, conn.AIOKafkaConnection._handle_frame
    proc_fetch = fetcher.Fetcher._proc_fetch_request

    def traced_send(self: Any, request: Any, expect_response: bool = True) -> Any:
        if type(request).__name__ == "ProduceRequest":
            out.write(f"{time.time() * 1e6:.0f} produce-sent\n")
        return send(self, request, expect_response)

    def traced_handle_frame(self: Any, resp: bytes) -> Any:
        if self._requests and type(self._requests[0][1]).__name__.startswith("FetchRequest"):
            out.write(f"{time.time() * 1e6:.0f} fetch-answer {len(resp)}\n")
        return handle_frame(self, resp)

    async def traced_proc_fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        got = await proc_fetch(self, *args, **kwargs)
        if got:
            out.write(f"{time.time() * 1e6:.0f} fetch-records\n")
        return got

    conn.AIOKafkaConnection.send = traced_send  # type: ignore[method-assign]
    conn.AIOKafkaConnection._handle_frame = traced_handle_frame  # type: ignore[method-assign]
    fetcher.Fetcher._proc_fetch_request = traced_proc_fetch  # type: ignore[method-assign]


if _FOLDER:
    _install(_FOLDER)
