"""Live view of a running graph in Foxglove (WebSocket), with the recorded MCAP's topics and schemas."""
