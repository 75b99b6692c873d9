"""Operator tools: doctor, indexes, change streams and clearing, run through `python -m seeding ...`."""
