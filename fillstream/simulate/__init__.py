"""Load sources that act as upstream systems: a market simulator and an order-flow generator."""
