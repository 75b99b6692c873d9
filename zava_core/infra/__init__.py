"""Infrastructure: configuration, the connection, the embedded engine, secrets redaction, time."""
