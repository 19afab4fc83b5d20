"""Layer 0, shared by all: run settings and profiles (``config``), the on-disk cache (``cache``), device choice
and input checks (``device``). Imports nothing of the package."""
