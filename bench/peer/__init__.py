"""`python -m bench peer`: our tools beside Microsoft's PostgreSQL original, on the same generated data.

schema.sql (the original's tables, indexes and RLS), convert (our documents as its rows), loader (COPY),
questions (each asked both ways), compare (to the cent), table (markdown), cluster (a throwaway server),
run (the command). See docs/peer-benchmark.md.
"""
