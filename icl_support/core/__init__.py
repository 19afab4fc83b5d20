"""Layer 0, shared by all: run settings and profiles (``config``), the on-disk cache (``cache``), strict JSON
records (``jsonio``), device choice and input checks (``device``), error hints (``errors``) and the commit a record
was made at (``gitinfo``). Imports nothing of the package."""
