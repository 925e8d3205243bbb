"""The vamp signaling server: introduces peers of a vamp to each other over Socket.IO."""
