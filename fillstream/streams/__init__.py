"""Topics and the JSON codec between Kafka bytes and the wire models."""
