"""krea-mcp as others receive it: the built sdist and wheel, the registry's server.json schema, an agent framework.

The tools come from ``.ci/third-party-python.sh``; see ``_support`` for how a missing one skips or fails.
"""
