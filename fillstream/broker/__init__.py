"""Kafka itself: the bundled local broker, where clients find it, and topic creation."""
