"""Server-side room orchestration: the Matrix admin bot (an application service), the outbox
worker that applies platform changes to rooms, the reconciler and the operations CLI."""
