"""Set-up shared by several test files (importable as `helpers.<module>`; tests/ is on sys.path)."""
