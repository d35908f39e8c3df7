"""The trading rules: plain Python and Decimal, no Faust, no I/O. The agents only call into this."""
