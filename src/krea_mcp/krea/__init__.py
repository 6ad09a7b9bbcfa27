"""Krea's HTTP API: the client, downloads of what it points at, retries, job creation. The only code that imports
``httpx`` (besides the assembly that builds it)."""
