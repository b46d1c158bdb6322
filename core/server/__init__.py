"""The HTTP server of ``intently run``."""
