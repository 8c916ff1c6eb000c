"""Live news: fetch feeds, sitemaps and article pages, extract the articles, and index them incrementally."""
