"""``python -m simulator``: serve the provider simulator."""

from simulator.server import main

raise SystemExit(main())
