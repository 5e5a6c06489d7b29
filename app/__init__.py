"""fitboard's service: a FastAPI app that runs `trainer` Runners in worker threads, streams
their stats over WebSockets and keeps every run in a database."""
