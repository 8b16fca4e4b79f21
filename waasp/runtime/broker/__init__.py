"""Redis: the clients, the queue operations, the Lua scripts and the result store."""
