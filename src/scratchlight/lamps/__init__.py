"""From an optimized light to a lamp set-up (see ``docs/architecture.md``)."""
