"""What a catalog is and how it is read and validated. Knows nothing of Dagster or vendors."""
