"""The schema's versions: ``NNNN_*.sql`` files and ``NNNN_*.py`` modules (see waasp.db.migrate)."""
