"""Client tools: the proxy's MCP server that offers a request's tools to the CLI."""
