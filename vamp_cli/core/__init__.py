"""The pure core: no asyncio, no sockets, no sounddevice. Plain objects, tested in microseconds."""
