"""The HTTP and WebSocket API: thin routes over the RunManager, the hub and the store."""
