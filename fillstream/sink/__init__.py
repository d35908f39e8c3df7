"""The ClickHouse sink: fills, order events and risk events into tables analysts query."""
