"""The HTTP API served by the workers: orders in, account state out, behind API keys."""
