"""Tariffs as data and the pricing of usage into bill lines. Pure: no I/O, no clock of its own."""
