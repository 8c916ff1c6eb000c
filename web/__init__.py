"""Sangam's web face: the REST API and the search page (Flask)."""
