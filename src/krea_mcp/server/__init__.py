"""The MCP surface: the server and its tools, their arguments and results, resources, and the protocol edge."""
