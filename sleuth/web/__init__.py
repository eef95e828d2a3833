"""`sleuth serve`: the web app over the same graph, settings, run records and checkpoints as the CLI."""
