"""For upstream systems and operators: `Client` sends the contract's messages and awaits an
order's answers; `dead_letters` reads and redrives dead letters; `shell` puts both on the
command line."""

from fillstream.client.upstream import Client

__all__ = ["Client"]
