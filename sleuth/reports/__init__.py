"""Reports for people: Markdown / JSON rendering and what changed since the last run."""
