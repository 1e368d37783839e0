"""Application logic: database, API client, sync, sandbox, jobs. No Qt at all."""
