"""The pure core: signals, sizing, positions, planning. No I/O, no clock reads, no globals."""
