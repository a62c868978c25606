"""course_pipeline: keep course catalogs in sync with course platforms."""
