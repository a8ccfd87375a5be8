"""The dashboard's page scripts, one per page: each only calls its module's show()."""
