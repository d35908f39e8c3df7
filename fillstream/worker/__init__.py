"""The pipeline worker, in the order data flows through it.

- `app`: the Faust app; `topics` and `tables`: what it reads, writes and keeps.
- `inputs`, `sequencing`, `dead_letters`: each input once, in order; bad ones set aside.
- `router`: instruments and ticks, validated, copied to every account partition.
- `partition_state`, `execution`, `documents`: the accounts, the core's rules applied to them.
- `publishing`: events out, on the contract's topics.
- `status`, `api`: the HTTP routes. `main` puts it together; `faust_adapter` holds the Faust
  internals it needs.
"""
