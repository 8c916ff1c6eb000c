"""Sangam the application: the command line, above the packages it drives (search, index, web)."""
