"""The wire contract: pydantic models of every topic's JSON, inbound and outbound."""
