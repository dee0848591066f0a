"""Contract sources, compiled artifacts and deployments."""
