"""The SQL mirror: models, engine set-up and migrations."""
