"""State kept in RocksDB-backed Faust tables with changelog topics, and its JSON form."""
