"""Socket.IO: the events (`events`), what may reach them (`transport`), rate limits."""
