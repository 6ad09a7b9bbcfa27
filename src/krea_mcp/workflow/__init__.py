"""The job workflow behind the tools: validate, guard spending, upload inputs, create, wait, deliver. No MCP here."""
