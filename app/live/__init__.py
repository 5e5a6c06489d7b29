"""Live messages: how a run's stats become messages (`WebSocketStatsCallback`), the one
module that shapes every message (`messages`), and the hub that numbers, fans out and saves
them (`EventHub`)."""
